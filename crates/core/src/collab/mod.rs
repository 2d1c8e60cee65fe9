//! Cross-functional collaboration: typed hand-offs on the edges between
//! departments (the seed's six edges, both directions, and the journey's
//! lead hand-off), each kind with a payload schema, a response and a
//! resolution SLA on the business calendar, a RACI and an escalation
//! policy; the department matrix; and [`service::open`], the one function
//! every workflow calls to hand work to another department.
//!
//! Hand-offs are the engine's one mechanism (`engine::handoffs`: the rows,
//! the state machine, the clocks, breach and escalation); this workflow owns
//! the kinds (`[collab.kinds]`) and the people's side of it.
//!
//! The workflow template, file by file:
//! - `model.rs` — the payload schema, RACI and calendar rules (pure), and
//!   the lifecycle re-exported from the engine;
//! - `store.rs` — its SQL (the matrix, the tile);
//! - `service.rs` — its commands, one transaction each, and `open`;
//! - `timers.rs` — the weekly review of the matrix;
//! - `read.rs` — the matrix and the tile for the front ends;
//! - `demo.rs` — its demo data and simulator step;
//! - `config.rs` — the `[collab]` section;
//! - `mod.rs` — this descriptor and the section's validation.

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

pub use config::CollabConfig;
pub use service::{Open, open};

pub const WORKFLOW: &str = "collab";

/// Cross-functional collaboration in the workflow list.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor;

impl Workflow for Descriptor {
    fn name(&self) -> &'static str {
        WORKFLOW
    }

    fn title(&self) -> &'static str {
        "Cross-functional collaboration"
    }

    fn section(&self) -> Option<SectionSpec> {
        Some(SectionSpec::of::<CollabConfig>())
    }

    fn validate(&self, config: &Config, org: &Org) -> Result<(), (String, String)> {
        validate_config(config, org)
    }

    fn timers(&self, r: &mut Registry) {
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
        include_str!("../../../../assets/guides/collab.md")
    }
}

/// Check the `[collab]` section. Errors are (key, reason).
pub fn validate_config(config: &Config, org: &Org) -> Result<(), (String, String)> {
    let c = config::settings(config).map_err(|e| ("collab".to_string(), e.to_string()))?;
    if c.kinds.is_empty() {
        return Err(("collab.kinds".into(), "needs at least one kind".into()));
    }
    for (name, k) in &c.kinds {
        model::check_kind(name, k, org)?;
        if !config.escalation.policies.contains_key(&k.policy) {
            return Err((
                format!("collab.kinds.{name}.policy"),
                format!("unknown escalation policy {:?}", k.policy),
            ));
        }
    }
    for (d, rule) in &c.triage {
        if org.department(d).is_none() {
            return Err((
                format!("collab.triage.{d}"),
                format!("unknown department {d:?}"),
            ));
        }
        match rule.as_str() {
            "queue" => {}
            "oncall" => {
                if !org.schedules.iter().any(|s| &s.department == d) {
                    return Err((
                        format!("collab.triage.{d}"),
                        format!("{d} has no on-call schedule"),
                    ));
                }
            }
            handle => match org.person(handle) {
                Some(p) if &p.department == d => {}
                Some(p) => {
                    return Err((
                        format!("collab.triage.{d}"),
                        format!("{} is not in {d}", p.label()),
                    ));
                }
                None => {
                    return Err((
                        format!("collab.triage.{d}"),
                        format!("{handle:?}: write \"queue\", \"oncall\" or a handle of {d}"),
                    ));
                }
            },
        }
    }
    for d in c.channels.keys() {
        if org.department(d).is_none() {
            return Err((
                format!("collab.channels.{d}"),
                format!("unknown department {d:?}"),
            ));
        }
    }
    if c.review_every.is_zero() || c.window.is_zero() {
        return Err((
            "collab.review_every".into(),
            "review_every and window must be longer than zero".into(),
        ));
    }
    if c.deal_insight_cents < 0 {
        return Err((
            "collab.deal_insight_cents".into(),
            "must not be negative".into(),
        ));
    }
    Ok(())
}
