//! Vendor management: RFP to contract, deliveries against purchase orders,
//! monthly scorecards, improvement plans with an owner and a deadline, and
//! renewals on the notice date. Owned by the Vendor & Partner director;
//! reaches Operations and Finance.
//!
//! The workflow template, file by file:
//! - `model.rs` — types, the pure state machine (the seed's diagram) and the
//!   pure arithmetic: RFP weights and consensus, OTIF / PPM, scorecards,
//!   notice dates;
//! - `store.rs` — all of its SQL;
//! - `service.rs` — its commands, one transaction each, roles from config;
//! - `timers.rs` — its clocks (monthly review, renewal, plan deadline,
//!   contract start and end) and their handlers;
//! - `read.rs` — read models for the front ends;
//! - `demo.rs` — its demo data and simulator step;
//! - `config.rs` — the `[vendor]` section;
//! - `mod.rs` — this descriptor and the section's validation against the org.

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
use crate::engine::approvals::Outcome;
use crate::engine::timers::Registry;
use crate::error::{Error, Result};
use crate::org::Org;
use crate::status::WorkflowStatus;
use crate::workflow::{ApprovalDecision, BoxFuture, Seeded, SimStep, Workflow};

pub use config::VendorConfig;

pub const WORKFLOW: &str = "vendor";

/// Vendor management in the workflow list.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor;

impl Workflow for Descriptor {
    fn name(&self) -> &'static str {
        WORKFLOW
    }

    fn title(&self) -> &'static str {
        "Vendor management"
    }

    fn section(&self) -> Option<SectionSpec> {
        Some(SectionSpec::of::<VendorConfig>())
    }

    fn validate(&self, config: &Config, org: &Org) -> Result<(), (String, String)> {
        validate_config(config, org)
    }

    fn timers(&self, r: &mut Registry) {
        r.register(timers::REVIEW_TIMER, timers::on_review);
        r.register(timers::START_TIMER, timers::on_start);
        r.register(timers::END_TIMER, timers::on_end);
        r.clock_owner(WORKFLOW, timers::Clocks);
    }

    fn tile<'a>(
        &'a self,
        ctx: &'a Ctx,
        conn: &'a mut PgConnection,
    ) -> BoxFuture<'a, Result<WorkflowStatus>> {
        Box::pin(read::tile(ctx, conn))
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

    /// Awards ("rfp:ID") and missed improvement plans ("plan:ID").
    fn decide<'a>(
        &'a self,
        ctx: &'a Ctx,
        d: &'a ApprovalDecision<'a>,
    ) -> Option<BoxFuture<'a, Result<Outcome>>> {
        Some(Box::pin(async move {
            let bad = || {
                Error::internal(format!(
                    "approval #{} names no RFP or plan ({:?})",
                    d.request.id, d.request.entity_id
                ))
            };
            let (kind, id) = d.request.entity_id.split_once(':').ok_or_else(bad)?;
            let id: i64 = id.parse().map_err(|_| bad())?;
            match kind {
                "rfp" => Ok(
                    service::decide_award(ctx, id, d.approver, d.decision, d.comment)
                        .await?
                        .outcome,
                ),
                "plan" => service::decide_plan(ctx, id, d.approver, d.decision, d.comment).await,
                _ => Err(bad()),
            }
        }))
    }

    fn guide(&self) -> &'static str {
        include_str!("../../../../assets/guides/vendor.md")
    }
}

/// Check the `[vendor]` section. Errors are (key, reason).
pub fn validate_config(config: &Config, org: &Org) -> Result<(), (String, String)> {
    let c = config::settings(config).map_err(|e| ("vendor".to_string(), e.to_string()))?;
    let check_roles = |key: &str, list: &[String]| -> Result<(), (String, String)> {
        for (i, r) in list.iter().enumerate() {
            org.check_role(r).map_err(|e| (format!("{key}[{i}]"), e))?;
        }
        Ok(())
    };
    if c.categories.is_empty() {
        return Err(("vendor.categories".into(), "needs at least one".into()));
    }
    if c.manage.is_empty() {
        return Err(("vendor.manage".into(), "needs at least one role".into()));
    }
    check_roles("vendor.manage", &c.manage)?;
    check_roles("vendor.notify", &c.notify)?;
    if org.department(&c.owner_department).is_none() {
        return Err((
            "vendor.owner_department".into(),
            format!("unknown department {:?}", c.owner_department),
        ));
    }
    if c.award.approvers.is_empty() {
        return Err((
            "vendor.award.approvers".into(),
            "needs at least one role".into(),
        ));
    }
    check_roles("vendor.award.approvers", &c.award.approvers)?;
    check_roles("vendor.award.also_above", &c.award.also_above)?;
    if c.award.above_cents < 0 {
        return Err((
            "vendor.award.above_cents".into(),
            "cannot be negative".into(),
        ));
    }
    if !(0.0..=10.0).contains(&c.award.deal_breaker_min) {
        return Err(("vendor.award.deal_breaker_min".into(), "is 0 to 10".into()));
    }
    if !(c.delivery.min_fill > 0.0 && c.delivery.min_fill <= 1.0) {
        return Err((
            "vendor.delivery.min_fill".into(),
            "is a share above 0, at most 1".into(),
        ));
    }
    let sc = &c.scorecard;
    let mut names = Vec::new();
    for (i, k) in sc.criteria.iter().enumerate() {
        let key = format!("vendor.scorecard.criteria[{i}]");
        if names.contains(&k.name.as_str()) {
            return Err((key, format!("criterion {:?} is named twice", k.name)));
        }
        names.push(k.name.as_str());
        if let Some(kpi) = &k.kpi {
            if !config::KPIS.contains(&kpi.as_str()) {
                return Err((
                    key,
                    format!("unknown kpi {kpi:?} (kpis: {})", config::KPIS.join(", ")),
                ));
            }
            if k.target.is_none() || k.floor.is_none() {
                return Err((key, "a KPI criterion needs a target and a floor".into()));
            }
        }
    }
    model::check_weights(sc.criteria.iter().map(|k| (k.name.as_str(), k.weight)))
        .map_err(|r| ("vendor.scorecard.criteria".to_string(), r.0))?;
    if sc.standings.is_empty() {
        return Err((
            "vendor.scorecard.standings".into(),
            "needs at least one".into(),
        ));
    }
    for (i, s) in sc.standings.iter().enumerate() {
        if !["none", "warn", "refuse_po"].contains(&s.action.as_str()) {
            return Err((
                format!("vendor.scorecard.standings[{i}].action"),
                "is none, warn or refuse_po".into(),
            ));
        }
    }
    if !sc.standings.iter().any(|s| s.min <= 0.0) {
        return Err((
            "vendor.scorecard.standings".into(),
            "one standing must start at 0 so every score has one".into(),
        ));
    }
    check_roles("vendor.plan.owner", std::slice::from_ref(&c.plan.owner))?;
    check_roles("vendor.plan.deciders", &c.plan.deciders)?;
    if c.plan.deadline.is_zero() {
        return Err((
            "vendor.plan.deadline".into(),
            "must be longer than zero".into(),
        ));
    }
    if c.plan.escalate_after.is_zero() {
        return Err((
            "vendor.plan.escalate_after".into(),
            "must be longer than zero".into(),
        ));
    }
    if !config
        .escalation
        .policies
        .contains_key(&c.plan.escalation_policy)
    {
        return Err((
            "vendor.plan.escalation_policy".into(),
            format!("no escalation policy {:?}", c.plan.escalation_policy),
        ));
    }
    model::Notice::parse(&c.contract.default_notice)
        .map_err(|r| ("vendor.contract.default_notice".to_string(), r.0))?;
    if c.crisis
        .severity
        .parse::<crate::crisis::Severity>()
        .is_err()
    {
        return Err((
            "vendor.crisis.severity".into(),
            "is P1, P2, P3 or P4".into(),
        ));
    }
    for (i, d) in c.crisis.departments.iter().enumerate() {
        if org.department(d).is_none() {
            return Err((
                format!("vendor.crisis.departments[{i}]"),
                format!("unknown department {d:?}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, EMBEDDED_DEFAULT};

    #[test]
    fn the_default_section_loads() {
        let c = Config::from_toml_str("default", EMBEDDED_DEFAULT);
        assert!(c.is_ok(), "{:?}", c.err().map(|e| e.to_string()));
    }

    #[test]
    fn scorecard_weights_totalling_95_are_refused_at_load() {
        let bad = EMBEDDED_DEFAULT.replace(
            "{ name = \"responsiveness\", weight = 10 }",
            "{ name = \"responsiveness\", weight = 5 }",
        );
        let err = Config::from_toml_str("bad", &bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("vendor.scorecard.criteria"), "{err}");
        assert!(err.contains("95"), "{err}");
    }
}
