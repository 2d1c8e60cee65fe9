//! The `[vendor]` section: who runs vendors and who approves awards,
//! delivery measurement, the monthly scorecard, improvement plans,
//! renewals and the crisis link.

use serde::{Deserialize, Serialize};

use super::model::StandingRule;
use crate::config::Section;
use crate::duration::HumanDuration;
use crate::org::RoleRef;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorConfig {
    /// Vendor categories (print_lab, framing, packaging, carrier, agency).
    pub categories: Vec<String>,
    /// Who adds vendors, runs RFPs, records deliveries and reviews.
    pub manage: Vec<String>,
    /// The department that owns vendors (its director decides renewals).
    pub owner_department: String,
    /// Who receives the monthly scorecards (Operations and Finance).
    pub notify: Vec<String>,
    pub award: AwardConfig,
    pub delivery: DeliveryConfig,
    pub scorecard: ScorecardConfig,
    pub plan: PlanConfig,
    pub contract: ContractConfig,
    pub crisis: CrisisLinkConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwardConfig {
    /// Every one of these approves an award (role references).
    pub approvers: Vec<String>,
    /// Above this contract value (cents) these approve too.
    pub above_cents: i64,
    pub also_above: Vec<String>,
    /// A deal breaker whose consensus is below this (0-10) puts a proposal out.
    pub deal_breaker_min: f64,
    pub approval_deadline: HumanDuration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Share of the ordered quantity an on-time order needs for credit.
    pub min_fill: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScorecardConfig {
    pub criteria: Vec<ScoreCriterion>,
    /// Period k back weighs max(0, min(1, (decay − k) / decay)).
    pub decay_periods: u32,
    pub standings: Vec<StandingRule>,
}

/// A scorecard criterion: from a KPI (with target and floor) or judged by
/// the reviewer (no kpi).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreCriterion {
    pub name: String,
    pub weight: u32,
    /// on_time_rate, otif_rate, in_full_rate, ppm, cost_variance; absent: judged.
    #[serde(default)]
    pub kpi: Option<String>,
    #[serde(default)]
    pub target: Option<f64>,
    #[serde(default)]
    pub floor: Option<f64>,
}

pub const KPIS: [&str; 5] = [
    "on_time_rate",
    "otif_rate",
    "in_full_rate",
    "ppm",
    "cost_variance",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanConfig {
    /// A period score below this opens an improvement plan.
    pub below: f64,
    /// Who owns plans (the first person holding the role).
    pub owner: String,
    pub deadline: HumanDuration,
    /// A reminder this long before the deadline.
    pub remind_before: HumanDuration,
    /// A failed plan still undecided this long after its deadline escalates.
    pub escalate_after: HumanDuration,
    pub escalation_policy: String,
    /// Who decides a failed plan (extend or end): all of them.
    pub deciders: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractConfig {
    pub default_notice: String,
    /// The renewal decision is asked this long before the notice date.
    pub renewal_lead: HumanDuration,
    /// Renewals due within this long are listed as due.
    pub due_window: HumanDuration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrisisLinkConfig {
    /// This many late orders in a row of a critical vendor open an incident.
    pub late_in_a_row: u32,
    /// On-time rate of a critical vendor this period below this opens one...
    pub otd_below: f64,
    /// ...once it has at least this many orders.
    pub min_orders: i64,
    pub severity: String,
    pub departments: Vec<String>,
}

impl Section for VendorConfig {
    const KEY: &'static str = "vendor";
}

/// The `[vendor]` section of the running configuration.
pub fn settings(config: &crate::config::Config) -> crate::Result<&VendorConfig> {
    config.section()
}

/// Parsed role references; the load checked them.
pub(crate) fn role_refs(key: &str, list: &[String]) -> crate::Result<Vec<RoleRef>> {
    list.iter()
        .map(|r| {
            r.parse()
                .map_err(|e| crate::Error::internal(format!("{key}: {e}")))
        })
        .collect()
}
