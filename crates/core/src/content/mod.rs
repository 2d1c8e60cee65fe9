//! Content lifecycle with director approvals: the seed's state machine,
//! every revision kept as a version, reviews through the engine's shared
//! approvals, and performance judged on a review cycle against the channel's
//! baseline.

pub mod demo;
pub mod diff;
pub mod model;
pub mod service;
pub mod store;

use crate::config::Config;
use crate::engine::timers::Registry;
use crate::org::Org;

pub const WORKFLOW: &str = "content";

pub fn register_timers(r: &mut Registry) {
    r.register(service::REVIEW_TIMER, service::on_review);
}

/// Check the `[content]` section. Errors are (key, reason).
pub fn validate_config(config: &Config, org: &Org) -> Result<(), (String, String)> {
    let c = &config.content;
    let check_role = |key: String, r: &str| -> Result<(), (String, String)> {
        let role: crate::org::RoleRef = r.parse().map_err(|e| (key.clone(), e))?;
        if let Some(d) = &role.department
            && org.department(d).is_none()
        {
            return Err((key, format!("unknown department {d:?}")));
        }
        Ok(())
    };
    for kind in model::KINDS {
        let Some(t) = c.types.get(kind) else {
            return Err(("content.types".into(), format!("type {kind:?} is missing")));
        };
        if t.required == 0 || t.approvers.is_empty() {
            return Err((
                format!("content.types.{kind}"),
                "needs approvers and required >= 1".into(),
            ));
        }
        for (i, r) in t.approvers.iter().enumerate() {
            check_role(format!("content.types.{kind}.approvers[{i}]"), r)?;
        }
    }
    for kind in c.types.keys() {
        if !model::KINDS.contains(&kind.as_str()) {
            return Err((
                format!("content.types.{kind}"),
                format!("unknown content type (types: {})", model::KINDS.join(", ")),
            ));
        }
    }
    for (i, r) in c.finance_approvers.iter().enumerate() {
        check_role(format!("content.finance_approvers[{i}]"), r)?;
    }
    check_role("content.final_say".into(), &c.final_say)?;
    if !(0.0..=10.0).contains(&c.underperforming_ratio) {
        return Err((
            "content.underperforming_ratio".into(),
            "must be between 0 and 10".into(),
        ));
    }
    for (name, ch) in &c.channels {
        if !(ch.baseline_ctr > 0.0 && ch.baseline_ctr < 1.0) {
            return Err((
                format!("content.channels.{name}.baseline_ctr"),
                "must be between 0 and 1".into(),
            ));
        }
    }
    if c.review_cycle.is_zero() {
        return Err((
            "content.review_cycle".into(),
            "must be longer than zero".into(),
        ));
    }
    Ok(())
}
