//! Budget management: allocation, campaign execution, expense tracking,
//! under/over budget (reallocate funds / spend review, adjust strategy),
//! ROI analysis and budget optimization back to allocation — for the
//! Finance director, every department head and the Business Manager.
//!
//! The workflow template, file by file:
//! - `model.rs` — money in cents, periods, the split, pacing and forecast,
//!   alarms as state transitions, spend reviews, carry-over, ROI, moves;
//! - `store.rs` — all of its SQL;
//! - `service.rs` — its commands, one transaction each, roles from config;
//!   [`service::record_commitment`] is the door for other workflows;
//! - `timers.rs` — mid-period and period-end clocks;
//! - `read.rs` — status, ROI, pending decisions, the report, the tile;
//! - `demo.rs` — its demo data and simulator step;
//! - `config.rs` — the `[budget]` section;
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
use crate::error::Result;
use crate::org::Org;
use crate::status::WorkflowStatus;
use crate::workflow::{ApprovalDecision, BoxFuture, Seeded, SimStep, Workflow};

pub use config::BudgetConfig;

pub const WORKFLOW: &str = "budget";

/// Budget management in the workflow list.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor;

impl Workflow for Descriptor {
    fn name(&self) -> &'static str {
        WORKFLOW
    }

    fn title(&self) -> &'static str {
        "Budget management"
    }

    fn section(&self) -> Option<SectionSpec> {
        Some(SectionSpec::of::<BudgetConfig>())
    }

    fn validate(&self, config: &Config, org: &Org) -> Result<(), (String, String)> {
        validate_config(config, org)
    }

    fn timers(&self, r: &mut Registry) {
        r.register(timers::MID_TIMER, timers::on_mid);
        r.register(timers::END_TIMER, timers::on_end);
    }

    fn tile<'a>(
        &'a self,
        ctx: &'a Ctx,
        conn: &'a mut PgConnection,
    ) -> BoxFuture<'a, Result<WorkflowStatus>> {
        Box::pin(read::tile(ctx, conn, ctx.now()))
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

    /// A budget approval (spend review, spend request, line change,
    /// reallocation) decided in Discord or the control room.
    fn decide<'a>(
        &'a self,
        ctx: &'a Ctx,
        d: &'a ApprovalDecision<'a>,
    ) -> Option<BoxFuture<'a, Result<Outcome>>> {
        Some(Box::pin(service::decide_from_engine(
            ctx, d.request, d.approver, d.decision, d.comment,
        )))
    }

    fn guide(&self) -> &'static str {
        include_str!("../../../../assets/guides/budget.md")
    }
}

/// Check the `[budget]` section. Errors are (key, reason).
pub fn validate_config(config: &Config, org: &Org) -> Result<(), (String, String)> {
    let c = config::settings(config).map_err(|e| ("budget".to_string(), e.to_string()))?;
    let err = |k: &str, r: &str| Err((format!("budget.{k}"), r.to_string()));
    if c.currency.len() != 3 || !c.currency.chars().all(|x| x.is_ascii_uppercase()) {
        return err("currency", "an ISO currency code such as \"USD\"");
    }
    if c.max_amount_cents <= 0 {
        return err("max_amount_cents", "must be positive");
    }
    org.check_role(&c.finance)
        .map_err(|e| ("budget.finance".to_string(), e))?;
    org.check_role(&c.manager)
        .map_err(|e| ("budget.manager".to_string(), e))?;
    if c.thresholds.is_empty() || c.thresholds.iter().any(|t| !(*t > 0.0 && *t <= 10.0)) {
        return err(
            "thresholds",
            "shares of a line between 0 and 10 (0.8 = 80%)",
        );
    }
    for (k, v) in [
        ("line_approval_above_cents", c.line_approval_above_cents),
        ("line_manager_above_cents", c.line_manager_above_cents),
        ("auto_approve_below_cents", c.auto_approve_below_cents),
        ("request_manager_above_cents", c.request_manager_above_cents),
        (
            "reallocation_auto_below_cents",
            c.reallocation_auto_below_cents,
        ),
        ("roi_min_spend_cents", c.roi_min_spend_cents),
    ] {
        if v < 0 {
            return err(k, "cannot be negative");
        }
    }
    if c.line_manager_above_cents < c.line_approval_above_cents {
        return err(
            "line_manager_above_cents",
            "must be at least line_approval_above_cents",
        );
    }
    if c.review_deadline.is_zero() {
        return err("review_deadline", "must be longer than zero");
    }
    if !(c.reallocation_max_share > 0.0 && c.reallocation_max_share <= 1.0) {
        return err("reallocation_max_share", "must be in (0, 1]");
    }
    if !(c.under_share > 0.0 && c.under_share <= 1.0) {
        return err("under_share", "must be in (0, 1]");
    }
    if c.channel.trim().is_empty() {
        return err("channel", "names the channel for budget alerts");
    }
    if c.channels.is_empty() {
        return err("channels", "lists the marketing channels");
    }
    for k in c.split.keys() {
        if !c.channels.contains(k) {
            return Err((
                format!("budget.split.{k}"),
                format!(
                    "not a channel of budget.channels ({})",
                    c.channels.join(", ")
                ),
            ));
        }
    }
    if c.split.values().map(|w| u64::from(*w)).sum::<u64>() == 0 {
        return err("split", "needs at least one positive weight");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, EMBEDDED_DEFAULT};

    #[test]
    fn the_default_section_loads_and_a_bad_split_fails_by_key() {
        assert!(Config::from_toml_str("default", EMBEDDED_DEFAULT).is_ok());
        let bad = EMBEDDED_DEFAULT.replace("experiments = 10", "billboards = 10");
        let err = Config::from_toml_str("bad", &bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("budget.split.billboards"), "{err}");
    }
}
