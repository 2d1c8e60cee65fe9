//! Crisis management: the seed's protocol run the way an incident tool runs
//! it. Incidents with severities P1–P4, on-call acknowledgement and
//! escalation (through the engine's shared escalation), protocol phases with
//! time boxes, status updates, post-mortems with action items, metrics, and
//! KPI rules that open incidents by themselves.
//!
//! The workflow template, file by file:
//! - `model.rs` — types and the pure state machine (status × phase);
//! - `store.rs` — all of its SQL;
//! - `service.rs` — its commands, one transaction each, roles from config;
//! - `timers.rs` — its clocks (phase boxes, un-ack, action items) and handlers;
//! - `read.rs` — read models for the front ends;
//! - `demo.rs` — its demo data and simulator step;
//! - `config.rs` — the `[crisis]` section;
//! - `mod.rs` — this descriptor and the section's validation against the org.
//!
//! Beyond the template: `triggers.rs` (KPI rules that open incidents),
//! `report.rs` (MTTA, MTTR, phase times), `templates.rs` (status updates and
//! post-mortems from `assets/crisis/`).

pub mod alerts;
pub mod config;
pub mod demo;
pub mod model;
pub mod read;
pub mod report;
pub mod service;
pub mod store;
pub mod templates;
pub mod timers;
pub mod triggers;

use sqlx::PgConnection;

use crate::config::{Config, SectionSpec};
use crate::engine::Ctx;
use crate::engine::timers::Registry;
use crate::error::Result;
use crate::org::Org;
use crate::status::WorkflowStatus;
use crate::workflow::{BoxFuture, Seeded, SimStep, Workflow};

pub use config::CrisisConfig;
pub use model::{Phase, Severity, Status};

/// The workflow's name in events, timers and notifications.
pub const WORKFLOW: &str = "crisis";

/// Crisis management in the workflow list.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor;

impl Workflow for Descriptor {
    fn name(&self) -> &'static str {
        WORKFLOW
    }

    fn title(&self) -> &'static str {
        "Crisis management"
    }

    fn section(&self) -> Option<SectionSpec> {
        Some(SectionSpec::of::<CrisisConfig>())
    }

    fn validate(&self, config: &Config, org: &Org) -> Result<(), (String, String)> {
        validate_config(config, org)
    }

    fn timers(&self, r: &mut Registry) {
        r.register(timers::PHASE_TIMER, timers::on_phase_box);
        r.register(timers::UNACK_TIMER, timers::on_unack);
        r.register(timers::ACTION_DUE_TIMER, timers::on_action_due);
        r.register(timers::NEXT_UPDATE_TIMER, timers::on_next_update);
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
        Some(Box::new(demo::Simulation::default()))
    }

    fn guide(&self) -> &'static str {
        include_str!("../../../../assets/guides/crisis.md")
    }
}

/// Check the `[crisis]` section against the org. Errors are (key, reason).
pub fn validate_config(config: &Config, org: &Org) -> Result<(), (String, String)> {
    let c = config::settings(config).map_err(|e| ("crisis".to_string(), e.to_string()))?;
    if org.department(&c.default_department).is_none() {
        return Err((
            "crisis.default_department".into(),
            format!("unknown department {:?}", c.default_department),
        ));
    }
    for (key, list) in [("respond", &c.roles.respond), ("command", &c.roles.command)] {
        if list.is_empty() {
            return Err((
                format!("crisis.roles.{key}"),
                "needs at least one role".into(),
            ));
        }
        for (i, role) in list.iter().enumerate() {
            org.check_role(role)
                .map_err(|e| (format!("crisis.roles.{key}[{i}]"), e))?;
        }
    }
    let a = &c.alerts;
    if org.department(&a.default_department).is_none() {
        return Err((
            "crisis.alerts.default_department".into(),
            format!("unknown department {:?}", a.default_department),
        ));
    }
    for (key, value) in std::iter::once(("default_severity".to_string(), &a.default_severity))
        .chain(
            a.severities
                .iter()
                .map(|(k, v)| (format!("severities.{k}"), v)),
        )
    {
        if value.parse::<Severity>().is_err() {
            return Err((
                format!("crisis.alerts.{key}"),
                format!("{value:?} is not a severity (P1, P2, P3 or P4)"),
            ));
        }
    }
    for sev in Severity::ALL {
        if !c.severities.contains_key(sev.as_str()) {
            return Err(("crisis.severities".into(), format!("{sev} is missing")));
        }
    }
    for (name, s) in &c.severities {
        if name
            .parse::<Severity>()
            .map(|p| p.as_str() != name)
            .unwrap_or(true)
        {
            return Err((
                format!("crisis.severities.{name}"),
                "severities are P1, P2, P3 and P4".into(),
            ));
        }
        if !config.escalation.policies.contains_key(&s.policy) {
            return Err((
                format!("crisis.severities.{name}.policy"),
                format!("unknown escalation policy {:?}", s.policy),
            ));
        }
        if s.unack_timeout.is_zero() {
            return Err((
                format!("crisis.severities.{name}.unack_timeout"),
                "must be longer than zero".into(),
            ));
        }
    }
    for (key, policy) in &c.department_policies {
        let k = format!("crisis.department_policies.{key}");
        let Some((sev, dept)) = key.split_once(':') else {
            return Err((
                k,
                "keys are \"SEVERITY:DEPARTMENT\", e.g. \"P2:technology\"".into(),
            ));
        };
        if sev.parse::<Severity>().is_err() {
            return Err((k, format!("unknown severity {sev:?}")));
        }
        if org.department(dept).is_none() {
            return Err((k, format!("unknown department {dept:?}")));
        }
        if !config.escalation.policies.contains_key(policy) {
            return Err((k, format!("unknown escalation policy {policy:?}")));
        }
    }
    let mut names = std::collections::HashSet::new();
    for (i, t) in c.triggers.iter().enumerate() {
        let key = |f: &str| format!("crisis.triggers[{i}].{f}");
        if !names.insert(t.name.clone()) {
            return Err((key("name"), format!("duplicate trigger {:?}", t.name)));
        }
        crate::metrics::check_metric(&t.metric).map_err(|e| (key("metric"), e.to_string()))?;
        if let Some(other) = &t.other {
            crate::metrics::check_metric(other).map_err(|e| (key("other"), e.to_string()))?;
        }
        triggers::Condition::from_config(t).map_err(|e| (key("when"), e))?;
        t.severity
            .parse::<Severity>()
            .map_err(|e| (key("severity"), e))?;
        for (j, d) in t.departments.iter().enumerate() {
            if org.department(d).is_none() {
                return Err((
                    format!("crisis.triggers[{i}].departments[{j}]"),
                    format!("unknown department {d:?}"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EMBEDDED_DEFAULT;

    /// The default config with `change` applied to its `[crisis]` section:
    /// the validation error as "key: reason", or "" when valid.
    fn validated(change: impl FnOnce(&mut CrisisConfig)) -> String {
        let mut config =
            Config::from_toml_str("default", EMBEDDED_DEFAULT).unwrap_or_else(|e| panic!("{e}"));
        if let Some(section) = config.section_mut::<CrisisConfig>() {
            change(section);
        }
        let org = Org::from_config(&config).unwrap_or_else(|(k, r)| panic!("{k}: {r}"));
        match validate_config(&config, &org) {
            Ok(()) => String::new(),
            Err((key, reason)) => format!("{key}: {reason}"),
        }
    }

    #[test]
    fn roles_and_the_default_department_are_checked_against_the_org() {
        assert_eq!(validated(|_| {}), "");
        let dept = validated(|c| c.default_department = "ops".into());
        assert!(
            dept.starts_with("crisis.default_department: unknown department \"ops\""),
            "{dept}"
        );
        let respond = validated(|c| c.roles.respond.push("team_lead:ops".into()));
        assert!(
            respond.starts_with("crisis.roles.respond[4]: unknown department \"ops\""),
            "{respond}"
        );
        let command = validated(|c| c.roles.command = vec!["wizard".into()]);
        assert!(
            command.starts_with("crisis.roles.command[0]: unknown role"),
            "{command}"
        );
        let nobody = validated(|c| c.roles.command.clear());
        assert_eq!(nobody, "crisis.roles.command: needs at least one role");
    }
}
