//! Customer journey orchestration: touches score leads (with decay), a
//! qualified lead is handed to Sales through the engine's shared hand-offs
//! (SLA, acknowledgement, escalation on breach), then contact, conversion,
//! support with an SLA, feedback, referrals, and the upsell loop back to
//! Marketing. No personal data is stored here: prospects are opaque keys.

pub mod demo;
pub mod model;
pub mod service;

use crate::config::Config;
use crate::engine::timers::Registry;

pub const WORKFLOW: &str = "journey";

pub fn register_timers(r: &mut Registry) {
    r.register(service::TICKET_TIMER, service::on_ticket_sla);
}

/// Check the `[journey]` section. Errors are (key, reason).
pub fn validate_config(config: &Config) -> Result<(), (String, String)> {
    let j = &config.journey;
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
    if !config.handoffs.kinds.contains_key(service::LEAD_HANDOFF) {
        return Err((
            "handoffs.kinds".into(),
            "the journey needs a \"lead\" hand-off kind (marketing to sales)".into(),
        ));
    }
    Ok(())
}
