//! The `[budget]` section: currency, periods, alert thresholds, approval
//! layers by amount, spend reviews, reallocation bounds, ROI, the split.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::PeriodKind;
use crate::config::Section;
use crate::duration::HumanDuration;
use crate::org::RoleRef;

/// Budget management: money rules, periods, thresholds and approvers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// The organisation's one currency (ISO code); amounts in others are refused.
    pub currency: String,
    /// The largest amount one command may carry, in cents.
    pub max_amount_cents: i64,
    /// month (default), quarter or year; in the org's time zone.
    pub period: PeriodKind,
    /// Alert thresholds as shares of a line (each on actual and on forecast).
    pub thresholds: Vec<f64>,
    /// The Finance director: closes periods, approves lines and spend.
    pub finance: String,
    /// Above the Finance director (second approval layer, escalations).
    pub manager: String,
    /// Setting or changing a line above this (cents) needs Finance's approval.
    pub line_approval_above_cents: i64,
    /// ... and above this, also the Business Manager's.
    pub line_manager_above_cents: i64,
    /// Spend requests below this (cents) are approved automatically.
    pub auto_approve_below_cents: i64,
    /// Spend requests above this (cents) also need the Business Manager.
    pub request_manager_above_cents: i64,
    /// Time the Finance director has to decide a spend review before it escalates.
    pub review_deadline: HumanDuration,
    /// A move is bounded by this share of the target line (0.3 = ±30%).
    pub reallocation_max_share: f64,
    /// Moves below this (cents) are applied without approval.
    pub reallocation_auto_below_cents: i64,
    /// Lines forecast below this share from mid-period offer their surplus.
    pub under_share: f64,
    /// No ROI proposal for a campaign with less spend (cents).
    pub roi_min_spend_cents: i64,
    /// Where alerts, reviews and period reports are announced.
    pub channel: String,
    /// Marketing channels, in order (ties in a split go to the first).
    pub channels: Vec<String>,
    /// The default split of a department's amount across channels (weights).
    pub split: BTreeMap<String, u32>,
}

impl Section for BudgetConfig {
    const KEY: &'static str = "budget";
}

impl BudgetConfig {
    pub fn finance_ref(&self) -> crate::Result<RoleRef> {
        self.finance
            .parse()
            .map_err(|e| crate::Error::internal(format!("budget.finance: {e}")))
    }
    pub fn manager_ref(&self) -> crate::Result<RoleRef> {
        self.manager
            .parse()
            .map_err(|e| crate::Error::internal(format!("budget.manager: {e}")))
    }
    /// The split weights in channel order.
    pub fn weights(&self) -> Vec<(String, u32)> {
        self.channels
            .iter()
            .filter_map(|c| self.split.get(c).map(|w| (c.clone(), *w)))
            .collect()
    }
}

/// The `[budget]` section of the running configuration.
pub fn settings(config: &crate::config::Config) -> crate::Result<&BudgetConfig> {
    config.section()
}
