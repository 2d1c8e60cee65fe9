//! A/B testing: the seed's loop from hypothesis to documented learning, with
//! deterministic assignment, exposures and events stored in Postgres,
//! aggregated in SQL to sufficient statistics, and analysed by `crate::stats`.

//!
//! The workflow template (ARCHITECTURE.md):
//! - `model.rs` — the loop's states and its pure state machine, the stop check;
//! - `assign.rs` — deterministic assignment by hash (pure);
//! - `store.rs` — all of its SQL; the state and design stored as text;
//! - `service.rs` — its commands, one transaction each, roles from config;
//! - `read.rs` — the tile for the front ends;
//! - `report.rs` — verdicts per metric and the dimension breakdowns (pure);
//! - `demo.rs` — demo data and the simulator's step.
//!
//! - `timers.rs` — the alert check of a running experiment (SRM, a hurt
//!   guardrail, ready to decide), once per condition.
//!
//! An experiment stops when a person decides it, on the stop check's advice.

pub mod assign;
pub mod config;
pub mod demo;
pub mod import;
pub mod model;
pub mod read;
pub mod report;
pub mod service;
pub mod store;
pub mod timers;

use sqlx::PgConnection;

use crate::config::{Config, SectionSpec};
use crate::engine::Ctx;
use crate::error::Result;
use crate::org::Org;
use crate::status::WorkflowStatus;
use crate::workflow::{BoxFuture, Seeded, SimStep, Workflow};

pub use config::ExperimentsConfig;

pub const WORKFLOW: &str = "experiments";

/// A/B testing in the workflow list.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor;

impl Workflow for Descriptor {
    fn name(&self) -> &'static str {
        WORKFLOW
    }

    fn title(&self) -> &'static str {
        "A/B testing"
    }

    fn section(&self) -> Option<SectionSpec> {
        Some(SectionSpec::of::<ExperimentsConfig>())
    }

    fn validate(&self, config: &Config, org: &Org) -> Result<(), (String, String)> {
        validate_config(config, org)
    }

    fn tile<'a>(
        &'a self,
        ctx: &'a Ctx,
        conn: &'a mut PgConnection,
    ) -> BoxFuture<'a, Result<WorkflowStatus>> {
        Box::pin(read::tile(conn, ctx.now()))
    }

    fn seed<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Seeded>> {
        Box::pin(async move {
            demo::seed(ctx).await?;
            Ok(Seeded::Loaded)
        })
    }

    fn simulator(&self) -> Option<Box<dyn SimStep>> {
        Some(Box::new(demo::Simulation))
    }

    fn timers(&self, r: &mut crate::engine::timers::Registry) {
        r.register(timers::CHECK_TIMER, timers::on_check);
    }

    fn guide(&self) -> &'static str {
        include_str!("../../../../assets/guides/experiments.md")
    }
}

/// Check the `[experiments]` section. Errors are (key, reason).
pub fn validate_config(config: &Config, org: &Org) -> Result<(), (String, String)> {
    let c = config::settings(config).map_err(|e| ("experiments".to_string(), e.to_string()))?;
    if c.channel.trim().is_empty() {
        return Err((
            "experiments.channel".into(),
            "names the channel decisions are announced in".into(),
        ));
    }
    if c.roles.run.is_empty() {
        return Err((
            "experiments.roles.run".into(),
            "needs at least one role".into(),
        ));
    }
    for (i, r) in c.roles.run.iter().enumerate() {
        org.check_role(r)
            .map_err(|e| (format!("experiments.roles.run[{i}]"), e))?;
    }
    for (key, refs) in [("alert", &c.alert), ("decisions", &c.decisions)] {
        for (i, r) in refs.iter().enumerate() {
            org.check_role(r)
                .map_err(|e| (format!("experiments.{key}[{i}]"), e))?;
        }
    }
    if c.check_every.is_zero() {
        return Err((
            "experiments.check_every".into(),
            "must be longer than zero".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, EMBEDDED_DEFAULT};

    #[test]
    fn a_renamed_department_fails_the_run_roles_by_key() {
        let renamed = EMBEDDED_DEFAULT.replace(
            "\"director:analytics\", \"team_lead:marketing\"",
            "\"director:insights\", \"team_lead:marketing\"",
        );
        let err = Config::from_toml_str("renamed", &renamed)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("experiments.roles.run[2]"), "{err}");
        assert!(err.contains("unknown department \"insights\""), "{err}");
    }
}
