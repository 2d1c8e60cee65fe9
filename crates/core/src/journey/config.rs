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
    /// The hand-off rule also needs this much fit (0: any fit).
    #[serde(default)]
    pub handoff_min_fit: f64,
    /// Or engagement plus fit reaching this hands the lead over even below
    /// `handoff_score` (a strong fit needs less engagement); 0: off.
    #[serde(default)]
    pub handoff_combined: f64,
    /// Fit from profile attributes and order history.
    #[serde(default)]
    pub fit: FitConfig,
    /// Who owns a lead handed to Sales.
    #[serde(default)]
    pub routing: RoutingConfig,
    /// A disqualified lead goes back to nurture after this long (calendar time).
    #[serde(default = "default_recycle_after")]
    pub recycle_after: HumanDuration,
    /// The Marketing director's funnel review (weekly).
    #[serde(default = "default_review_every")]
    pub review_every: HumanDuration,
    /// Touches shown on a lead's timeline (and carried by its hand-off).
    #[serde(default = "default_timeline")]
    pub timeline_touches: usize,
}

fn default_recycle_after() -> HumanDuration {
    HumanDuration::from_secs(90 * 86_400)
}

fn default_review_every() -> HumanDuration {
    HumanDuration::from_secs(7 * 86_400)
}

fn default_timeline() -> usize {
    10
}

/// Fit: how much a prospect looks like VividWalls' best buyers, from
/// profile attributes (not personal data) and order history.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitConfig {
    /// Points per profile attribute, e.g. { trade_buyer = 40, ... }.
    #[serde(default)]
    pub attributes: BTreeMap<String, f64>,
    /// Points per `order_per_cents` of order history, at most `order_max`.
    #[serde(default)]
    pub order_per_cents: i64,
    #[serde(default)]
    pub order_points: f64,
    #[serde(default)]
    pub order_max: f64,
}

/// Lead owners: a matching rule first, else round-robin among `owners`
/// (empty: every person of the Sales department) who have capacity.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    #[serde(default)]
    pub owners: Vec<String>,
    /// Open leads (handed off, accepted, contacted) one owner may hold.
    #[serde(default = "default_capacity")]
    pub capacity: i64,
    #[serde(default)]
    pub rules: Vec<RoutingRule>,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            owners: Vec::new(),
            capacity: default_capacity(),
            rules: Vec::new(),
        }
    }
}

fn default_capacity() -> i64 {
    25
}

/// Leads of this segment and/or region go to `owner` (while it has capacity).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    #[serde(default)]
    pub segment: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub owner: String,
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
