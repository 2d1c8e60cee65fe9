//! The `[journey]` section: lead scoring and service levels.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Section;
use crate::duration::HumanDuration;

/// Customer journey: lead scoring and service levels.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneyConfig {
    /// Points per touch kind (delivered, opened, clicked, multiple_clicks,
    /// reply, form_submitted, unsubscribed).
    pub points: BTreeMap<String, i32>,
    /// Old engagement counts less: a touch is worth half after this long.
    pub decay_half_life: HumanDuration,
    /// Stages by minimum score, e.g. { new = 0, aware = 10, ... }.
    pub stages: BTreeMap<String, i32>,
    /// At this score the lead is handed to Sales.
    pub handoff_score: i32,
    /// At this score the Sales director is alerted.
    pub alert_score: i32,
    /// Time Support has to resolve a ticket.
    pub support_sla: HumanDuration,
    /// Touch channels.
    pub channels: Vec<String>,
    /// Satisfied customers, for upsell campaigns: NPS at least / CSAT at least.
    pub satisfied_nps: i32,
    pub satisfied_csat: i32,
    /// Content kind to send at each stage (personalised next touch).
    pub content_by_stage: BTreeMap<String, String>,
    /// Which departments of the org play the journey's parts.
    pub departments: JourneyDepartments,
}

/// The departments (keys of `[org]`) that play the journey's parts;
/// checked against the org at load, so a renamed department fails the load
/// naming the key instead of silently breaking a check.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneyDepartments {
    /// Hands leads to Sales by hand and runs upsell campaigns.
    pub marketing: String,
    /// Contacts handed-off leads; its director hears of qualified leads.
    pub sales: String,
    /// Resolves support tickets; its team leads and director hear of
    /// tickets past their SLA.
    pub support: String,
}

impl Section for JourneyConfig {
    const KEY: &'static str = "journey";
}

/// The `[journey]` section of the running configuration.
pub fn settings(config: &crate::config::Config) -> crate::Result<&JourneyConfig> {
    config.section()
}
