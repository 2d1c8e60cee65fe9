//! The `[experiments]` section: who runs experiments and where decisions
//! are announced.

use serde::{Deserialize, Serialize};

use crate::config::Section;
use crate::duration::HumanDuration;
use crate::org::RoleRef;

/// A/B testing: who designs, starts, decides and documents experiments.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentsConfig {
    /// Where a decided experiment is announced (a key of `[discord.channels]`).
    pub channel: String,
    /// How often a running experiment's analysis is checked for alerts
    /// (sample-ratio mismatch, a hurt guardrail, ready to decide).
    #[serde(default = "default_check_every")]
    pub check_every: HumanDuration,
    /// Who hears of those alerts besides the owner (role references).
    #[serde(default = "default_alert")]
    pub alert: Vec<String>,
    /// Who hears of decisions (role references).
    #[serde(default = "default_decisions")]
    pub decisions: Vec<String>,
    pub roles: ExperimentsRoles,
}

fn default_check_every() -> HumanDuration {
    HumanDuration::from_secs(3600)
}

fn default_alert() -> Vec<String> {
    vec!["director:analytics".into()]
}

fn default_decisions() -> Vec<String> {
    vec!["director:marketing".into()]
}

/// Parse role references checked at load.
pub fn role_refs(key: &str, refs: &[String]) -> crate::Result<Vec<RoleRef>> {
    refs.iter()
        .map(|r| {
            r.parse()
                .map_err(|e| crate::Error::internal(format!("experiments.{key}: {e}")))
        })
        .collect()
}

/// Role references ("analyst", "director:marketing", "business_manager"),
/// checked against the org at load.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentsRoles {
    /// Design, start, decide and document experiments.
    pub run: Vec<String>,
}

impl ExperimentsRoles {
    /// The parsed references; the load checked them, so a failure here
    /// means the section changed after loading.
    pub fn run_refs(&self) -> crate::Result<Vec<RoleRef>> {
        self.run
            .iter()
            .map(|r| {
                r.parse()
                    .map_err(|e| crate::Error::internal(format!("experiments.roles.run: {e}")))
            })
            .collect()
    }
}

impl Section for ExperimentsConfig {
    const KEY: &'static str = "experiments";
}

/// The `[experiments]` section of the running configuration.
pub fn settings(config: &crate::config::Config) -> crate::Result<&ExperimentsConfig> {
    config.section()
}
