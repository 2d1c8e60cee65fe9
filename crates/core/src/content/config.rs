//! The `[content]` section: who edits and who approves what, review
//! cycles, baselines.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Section;
use crate::duration::HumanDuration;
use crate::org::RoleRef;

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
    /// Where review requests are announced.
    pub review_channel: String,
    pub roles: ContentRoles,
}

/// Who may work on content besides an item's owner, as role references
/// ("director:marketing", "team_lead:creative", "business_manager");
/// checked against the org at load.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentRoles {
    /// Edit, submit for review, publish and archive any item.
    pub edit: Vec<String>,
}

impl ContentRoles {
    pub fn edit_refs(&self) -> crate::Result<Vec<RoleRef>> {
        role_refs("content.roles.edit", &self.edit)
    }
}

/// Parsed role references; the load checked them, so a failure here means
/// the section was changed after loading.
pub(crate) fn role_refs(key: &str, list: &[String]) -> crate::Result<Vec<RoleRef>> {
    list.iter()
        .map(|r| {
            r.parse()
                .map_err(|e| crate::Error::internal(format!("{key}: {e}")))
        })
        .collect()
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
