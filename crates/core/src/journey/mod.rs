//! Customer journey orchestration: touches score leads (with decay), a
//! qualified lead is handed to Sales through the engine's shared hand-offs
//! (SLA, acknowledgement, escalation on breach), then contact, conversion,
//! support with an SLA, feedback, referrals, and the upsell loop back to
//! Marketing. No personal data is stored here: prospects are opaque keys.

pub mod config;
pub mod demo;
pub mod model;
pub mod read;
pub mod service;

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

    fn validate(&self, config: &Config, _org: &Org) -> Result<(), (String, String)> {
        validate_config(config)
    }

    fn timers(&self, r: &mut Registry) {
        r.register(service::TICKET_TIMER, service::on_ticket_sla);
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
pub fn validate_config(config: &Config) -> Result<(), (String, String)> {
    let j = config::settings(config).map_err(|e| ("journey".to_string(), e.to_string()))?;
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
    if j.alert_score < j.handoff_score {
        return Err((
            "journey.alert_score".into(),
            "must not be below handoff_score".into(),
        ));
    }
    let has_lead = crate::collab::config::settings(config)
        .map(|c| c.kinds.contains_key(service::LEAD_HANDOFF))
        .unwrap_or(false);
    if !has_lead {
        return Err((
            "collab.kinds".into(),
            "the journey needs a \"lead\" hand-off kind (marketing to sales)".into(),
        ));
    }
    Ok(())
}
