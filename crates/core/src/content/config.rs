//! The `[content]` section: who approves what, review cycles, baselines.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Section;
use crate::duration::HumanDuration;

/// Content lifecycle: who approves what, review cycles, baselines.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentConfig {
    /// Time approvers have to decide (reminder and escalation from [approvals]).
    pub approval_deadline: HumanDuration,
    /// Rounds of changes before the Marketing director alone decides.
    pub max_revision_rounds: u32,
    /// How often published content is evaluated against its channel's baseline.
    pub review_cycle: HumanDuration,
    /// Content in Maintenance not updated for this long is reviewed for archival.
    pub staleness: HumanDuration,
    /// Click-through below this share of the channel baseline is underperforming.
    pub underperforming_ratio: f64,
    /// Items costing more than this (cents) also need Finance or the Business Manager.
    pub finance_threshold_cents: i64,
    /// Roles of which one must approve items above the threshold.
    pub finance_approvers: Vec<String>,
    /// Who decides once the revision cap is reached.
    pub final_say: String,
    /// Per content type: approver roles and how many approvals are needed.
    pub types: BTreeMap<String, ContentTypeConfig>,
    /// Per channel: the click-through baseline.
    pub channels: BTreeMap<String, ChannelConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentTypeConfig {
    pub approvers: Vec<String>,
    pub required: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Clicks per view the channel normally achieves.
    pub baseline_ctr: f64,
}

impl Section for ContentConfig {
    const KEY: &'static str = "content";
}

/// The `[content]` section of the running configuration.
pub fn settings(config: &crate::config::Config) -> crate::Result<&ContentConfig> {
    config.section()
}
