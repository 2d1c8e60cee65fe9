//! Customer journey orchestration: touches score leads (with decay), a
//! qualified lead is handed to Sales through the engine's shared hand-offs
//! (SLA, acknowledgement, escalation on breach), then contact, conversion,
//! support with an SLA, feedback, referrals, and the upsell loop back to
//! Marketing. No personal data is stored here: prospects are opaque keys.

//!
//! The workflow template (ARCHITECTURE.md):
//! - `model.rs` — scoring, and the lead's and the ticket's pure state machines;
//! - `store.rs` — all of its SQL; statuses stored as text;
//! - `service.rs` — its commands, one transaction each, departments from config;
//! - `timers.rs` — the support SLA clock, the recycle of disqualified leads,
//!   the Marketing director's weekly funnel review;
//! - `read.rs` — the tile, the funnel and the lead queue for the front ends;
//! - `demo.rs` — demo data and the simulator's step.

pub mod config;
pub mod demo;
pub mod model;
pub mod read;
pub mod service;
pub mod store;
pub mod timers;

use sqlx::PgConnection;

use crate::config::{Config, SectionSpec};
use crate::engine::Ctx;
use crate::engine::timers::Registry;
use crate::error::Result;
use crate::org::Org;
use crate::status::WorkflowStatus;
use crate::workflow::{BoxFuture, Seeded, SimStep, Workflow};

pub use config::JourneyConfig;

pub const WORKFLOW: &str = "journey";

/// The customer journey in the workflow list.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor;

impl Workflow for Descriptor {
    fn name(&self) -> &'static str {
        WORKFLOW
    }

    fn title(&self) -> &'static str {
        "Customer journey"
    }

    fn section(&self) -> Option<SectionSpec> {
        Some(SectionSpec::of::<JourneyConfig>())
    }

    fn validate(&self, config: &Config, org: &Org) -> Result<(), (String, String)> {
        validate_config(config, org)
    }

    fn timers(&self, r: &mut Registry) {
        r.register(timers::TICKET_TIMER, timers::on_ticket_sla);
        r.register(timers::RECYCLE_TIMER, timers::on_recycle);
        r.register(timers::REVIEW_TIMER, timers::on_review);
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

    fn guide(&self) -> &'static str {
        include_str!("../../../../assets/guides/journey.md")
    }
}

/// Check the `[journey]` section. Errors are (key, reason).
pub fn validate_config(config: &Config, org: &Org) -> Result<(), (String, String)> {
    let j = config::settings(config).map_err(|e| ("journey".to_string(), e.to_string()))?;
    let d = &j.departments;
    for (key, dept) in [
        ("marketing", &d.marketing),
        ("sales", &d.sales),
        ("support", &d.support),
    ] {
        if org.department(dept).is_none() {
            return Err((
                format!("journey.departments.{key}"),
                format!(
                    "unknown department {dept:?} (departments: {})",
                    org.departments
                        .iter()
                        .map(|d| d.key.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    for k in model::KINDS
        .iter()
        .chain(std::iter::once(&"multiple_clicks"))
    {
        if !j.points.contains_key(*k) {
            return Err(("journey.points".into(), format!("no points for {k:?}")));
        }
    }
    for k in j.points.keys() {
        if !model::KINDS.contains(&k.as_str()) && k != "multiple_clicks" {
            return Err((
                format!("journey.points.{k}"),
                format!(
                    "unknown touch kind (kinds: {}, multiple_clicks)",
                    model::KINDS.join(", ")
                ),
            ));
        }
    }
    if j.stages.is_empty() {
        return Err(("journey.stages".into(), "needs at least one stage".into()));
    }
    for (stage, kind) in &j.content_by_stage {
        if !j.stages.contains_key(stage) {
            return Err((
                format!("journey.content_by_stage.{stage}"),
                "unknown stage".into(),
            ));
        }
        if !crate::content::model::KINDS.contains(&kind.as_str()) {
            return Err((
                format!("journey.content_by_stage.{stage}"),
                format!("unknown content type {kind:?}"),
            ));
        }
    }
    let sales_person = |h: &str| ctx_person_in(org, h, &d.sales);
    for (i, o) in j.routing.owners.iter().enumerate() {
        if let Err(why) = sales_person(o) {
            return Err((format!("journey.routing.owners[{i}]"), why));
        }
    }
    for (i, r) in j.routing.rules.iter().enumerate() {
        if let Err(why) = sales_person(&r.owner) {
            return Err((format!("journey.routing.rules[{i}].owner"), why));
        }
        if r.segment.is_none() && r.region.is_none() {
            return Err((
                format!("journey.routing.rules[{i}]"),
                "a rule names a segment, a region or both".into(),
            ));
        }
    }
    if j.routing.capacity < 1 {
        return Err((
            "journey.routing.capacity".into(),
            "must be at least 1 open lead per owner".into(),
        ));
    }
    if j.recycle_after.delta() <= chrono::TimeDelta::zero() {
        return Err(("journey.recycle_after".into(), "must be above zero".into()));
    }
    if j.review_every.delta() <= chrono::TimeDelta::zero() {
        return Err(("journey.review_every".into(), "must be above zero".into()));
    }
    for (a, pts) in &j.fit.attributes {
        if !pts.is_finite() {
            return Err((
                format!("journey.fit.attributes.{a}"),
                "must be a number".into(),
            ));
        }
    }
    if j.alert_score < j.handoff_score {
        return Err((
            "journey.alert_score".into(),
            "must not be below handoff_score".into(),
        ));
    }
    let lead = crate::collab::config::settings(config)
        .ok()
        .and_then(|c| c.kinds.get(service::LEAD_HANDOFF));
    let Some(lead) = lead else {
        return Err((
            "collab.kinds".into(),
            format!(
                "the journey needs a \"lead\" hand-off kind ({} to {})",
                d.marketing, d.sales
            ),
        ));
    };
    if lead.from != d.marketing || lead.to != d.sales {
        return Err((
            "collab.kinds.lead".into(),
            format!(
                "goes {} to {}, but the journey hands leads from {} to {} (journey.departments)",
                lead.from, lead.to, d.marketing, d.sales
            ),
        ));
    }
    Ok(())
}

/// A person of the department, or why not.
fn ctx_person_in(org: &Org, handle: &str, department: &str) -> Result<(), String> {
    match org.people.iter().find(|p| p.handle == handle) {
        None => Err(format!("unknown person {handle:?}")),
        Some(p) if p.department != department => Err(format!(
            "{handle} is in {}, not {department}: leads are owned by Sales",
            p.department
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, EMBEDDED_DEFAULT};

    fn load_error(toml: &str) -> String {
        Config::from_toml_str("test", toml)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn a_renamed_department_fails_the_load_by_key() {
        // Sales becomes "revenue" in the org: the journey's departments that
        // still say "sales" must fail the load, naming the key.
        let renamed = EMBEDDED_DEFAULT.replace("{ key = \"sales\"", "{ key = \"revenue\"");
        let err = load_error(&renamed);
        assert!(err.contains("unknown department \"sales\""), "{err}");
        let only_journey = EMBEDDED_DEFAULT.replace(
            "support = \"customer_experience\"",
            "support = \"helpdesk\"",
        );
        let err = load_error(&only_journey);
        assert!(err.contains("journey.departments.support"), "{err}");
        assert!(err.contains("unknown department \"helpdesk\""), "{err}");
    }

    #[test]
    fn the_lead_hand_off_must_go_between_the_journeys_departments() {
        let moved = EMBEDDED_DEFAULT.replace(
            "[journey.departments]\nmarketing = \"marketing\"",
            "[journey.departments]\nmarketing = \"product\"",
        );
        let err = load_error(&moved);
        assert!(err.contains("collab.kinds.lead"), "{err}");
        assert!(err.contains("from product to sales"), "{err}");
        assert!(Config::from_toml_str("default", EMBEDDED_DEFAULT).is_ok());
    }
}
