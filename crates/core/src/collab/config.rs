//! The `[collab]` section: the hand-off kinds on the edges between
//! departments (both directions), each with its payload schema, SLAs,
//! calendar, RACI and escalation policy; the triage responsibility per
//! department; the weekly review.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Section;
use crate::duration::HumanDuration;

/// Cross-functional collaboration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollabConfig {
    /// How often the matrix is posted to the Business Manager.
    #[serde(default = "week")]
    pub review_every: HumanDuration,
    /// The window the matrix and metrics read by default.
    #[serde(default = "thirty_days")]
    pub window: HumanDuration,
    /// A conversion worth at least this (cents) tells Finance (deal insights).
    #[serde(default)]
    pub deal_insight_cents: i64,
    /// Per receiving department: "queue" (its Responsible people), "oncall"
    /// (whoever is on call on its schedule), or a person's handle.
    #[serde(default)]
    pub triage: BTreeMap<String, String>,
    /// Per department: the Discord channel hand-off cards are posted to.
    #[serde(default)]
    pub channels: BTreeMap<String, String>,
    pub kinds: BTreeMap<String, KindConfig>,
}

fn week() -> HumanDuration {
    HumanDuration::from_secs(7 * 86_400)
}

fn thirty_days() -> HumanDuration {
    HumanDuration::from_secs(30 * 86_400)
}

fn sixty_minutes() -> HumanDuration {
    HumanDuration::from_secs(3600)
}

fn default_policy() -> String {
    "handoff-breach".into()
}

fn business() -> String {
    "business".into()
}

/// One edge kind: from one department to another.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindConfig {
    /// For people: "Campaign data".
    #[serde(default)]
    pub title: String,
    pub from: String,
    pub to: String,
    /// The payload's named fields.
    #[serde(default)]
    pub fields: Vec<FieldConfig>,
    /// Time to first response (acknowledgement).
    #[serde(default = "sixty_minutes")]
    pub response_sla: HumanDuration,
    /// Time to done; none: only the response is timed.
    #[serde(default)]
    pub resolution_sla: Option<HumanDuration>,
    /// "business" (the receiving department's hours) or "24x7".
    #[serde(default = "business")]
    pub calendar: String,
    pub raci: RaciConfig,
    /// Escalation policy on a breach.
    #[serde(default = "default_policy")]
    pub policy: String,
}

/// One named field of a payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldConfig {
    pub name: String,
    /// text, number, integer, money, date, url, bool, list
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
}

/// Who is Responsible, Accountable, Consulted and Informed, as role
/// references ("director:sales", "team_lead:sales", "business_manager") or
/// handles.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaciConfig {
    /// Exactly one.
    pub accountable: Vec<String>,
    /// At least one.
    pub responsible: Vec<String>,
    #[serde(default)]
    pub consulted: Vec<String>,
    #[serde(default)]
    pub informed: Vec<String>,
}

impl Section for CollabConfig {
    const KEY: &'static str = "collab";
}

/// The `[collab]` section of the running configuration.
pub fn settings(config: &crate::config::Config) -> crate::Result<&CollabConfig> {
    config.section()
}
