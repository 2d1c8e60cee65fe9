//! The `[privacy]` configuration section: classification rules, data
//! categories with their readers and retention, clocks and audit thresholds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::deadline::Retention;
use crate::config::Section;
use crate::duration::HumanDuration;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyConfig {
    /// How often the scheduled audit runs.
    pub audit_every: HumanDuration,
    /// Channel that hears about findings, incidents and overdue clocks.
    pub channel: String,
    /// Handle of the data-protection contact named in breach notifications.
    pub contact_point: String,
    /// Departments a privacy incident concerns.
    pub incident_departments: Vec<String>,
    /// Roles that may open data-subject requests.
    pub request_handlers: Vec<String>,
    /// Roles that may execute, extend or refuse requests and run audits.
    pub officers: Vec<String>,
    /// Roles that respond to breaches (record, notify, remediate).
    pub responders: Vec<String>,
    /// Roles of which one must approve a breach close-out.
    pub closeout_approvers: Vec<String>,
    /// Roles of which one (never the requester) must approve an erasure:
    /// the Compliance director and the data-protection officer's role.
    pub erasure_approvers: Vec<String>,
    /// Purposes personal data may still be read for while its processing is
    /// restricted (Art. 18): legal claims, legal obligations, the request itself.
    pub restricted_purposes: Vec<String>,
    /// Roles that may rotate the master key.
    pub key_custodians: Vec<String>,
    /// Purge records past their retention when an audit runs (else: findings only).
    pub retention_purge: bool,
    /// Value detectors that refuse PII-looking values in non-PII fields:
    /// "email", "phone", "payment_card", "ip_address".
    pub detect: Vec<String>,
    /// Why personal data may be read: a read names one (`NAME` or
    /// `NAME: detail`); free text is refused.
    pub purposes: Vec<String>,
    pub requests: RequestConfig,
    pub breach: BreachConfig,
    pub anomaly: AnomalyConfig,
    /// Data categories: PII or not, who may read, how long it is kept.
    pub categories: BTreeMap<String, CategoryConfig>,
    /// Field name rules, first match wins; an unmatched field is refused.
    pub rules: Vec<RuleConfig>,
    /// Which audit findings open a privacy incident, and at what severity.
    #[serde(default)]
    pub incident_rules: Vec<IncidentRuleConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestConfig {
    /// The time limit in calendar months (GDPR Art. 12(3): one).
    pub months: u32,
    /// Further months an extension may add (at most two), if the person is
    /// told within the first period.
    pub max_extension_months: u32,
    /// Reminders to the officers this long before the deadline.
    pub remind_before: Vec<HumanDuration>,
    /// An audit flags open requests this close to their deadline.
    pub warn_within: HumanDuration,
    /// When the deadline starts: at receipt (the default and the regulators'
    /// reading) or once the identity is verified.
    #[serde(default)]
    pub clock_starts: ClockStarts,
    /// Remind the officers when a request is still not verified this long
    /// after receipt.
    pub verify_remind_after: HumanDuration,
}

/// When a request's one-month clock starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockStarts {
    #[default]
    Receipt,
    Verification,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreachConfig {
    /// Time to notify the supervisory authority after becoming aware (72h).
    pub notify_within: HumanDuration,
    /// Reminders this long before the notification deadline.
    pub remind_before: Vec<HumanDuration>,
    /// Name of the supervisory authority, for the record.
    pub authority: String,
    /// Time the close-out approvers have to decide.
    pub closeout_deadline: HumanDuration,
    /// Remediation tasks default to being due this long after they are added.
    pub task_due: HumanDuration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyConfig {
    /// The window whose reads are compared with the baseline (usually the audit interval).
    pub window: HumanDuration,
    /// Preceding windows that make up a person's baseline.
    pub baseline_windows: u32,
    /// Reads above this multiple of the baseline mean are an anomaly.
    pub ratio: f64,
    /// ...and at least this many reads in the window.
    pub min_reads: u32,
    /// Refused reads by one person in the window that make a finding.
    pub refused_reads: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryConfig {
    pub pii: bool,
    /// Roles that may read fields of this category (PII categories only).
    #[serde(default)]
    pub readers: Vec<String>,
    /// How long records are kept: "7y", "24mo", "90d".
    pub retention: Retention,
    #[serde(default)]
    pub description: String,
    /// Record of processing (Art. 30): why the data is processed (names
    /// from `purposes`), the legal basis, who receives it, transfers
    /// outside the EEA, and where it comes from.
    #[serde(default)]
    pub purposes: Vec<String>,
    #[serde(default)]
    pub legal_basis: String,
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default)]
    pub transfers: String,
    #[serde(default)]
    pub source: String,
}

/// The legal bases of Art. 6(1).
pub const LEGAL_BASES: &[&str] = &[
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Field names or globs ("email", "*_email", "card_*").
    pub fields: Vec<String>,
    pub category: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentRuleConfig {
    /// A finding kind (see `vivid guide privacy`).
    pub finding: String,
    pub severity: String,
    /// Only when the finding's ratio (reads over baseline) is at least this.
    #[serde(default)]
    pub min_ratio: Option<f64>,
}

impl Section for PrivacyConfig {
    const KEY: &'static str = "privacy";
}

/// The `[privacy]` section of the running configuration.
pub fn settings(config: &crate::config::Config) -> crate::Result<&PrivacyConfig> {
    config.section()
}
