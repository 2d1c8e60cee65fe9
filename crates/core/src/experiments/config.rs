//! The `[experiments]` section: who runs experiments and where decisions
//! are announced.

use serde::{Deserialize, Serialize};

use crate::config::Section;
use crate::org::RoleRef;

/// A/B testing: who designs, starts, decides and documents experiments.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentsConfig {
    /// Where a decided experiment is announced (a key of `[discord.channels]`).
    pub channel: String,
    pub roles: ExperimentsRoles,
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
