//! Content lifecycle with director approvals: the seed's state machine,
//! every revision kept as a version, reviews through the engine's shared
//! approvals, and performance judged on a review cycle against the channel's
//! baseline.
//!
//! The workflow template, file by file:
//! - `model.rs` — types and the pure state machine (the seed's diagram) and
//!   the review cycle's verdict;
//! - `store.rs` — all of its SQL;
//! - `service.rs` — its commands, one transaction each, roles from config;
//! - `timers.rs` — its clock (the review cycle) and its handler;
//! - `read.rs` — read models for the front ends;
//! - `demo.rs` — its demo data;
//! - `config.rs` — the `[content]` section;
//! - `mod.rs` — this descriptor and the section's validation against the org.
//!
//! Beyond the template: `diff.rs` (readable diffs between versions).

pub mod config;
pub mod demo;
pub mod diff;
pub mod model;
pub mod read;
pub mod service;
pub mod store;
pub mod timers;

use sqlx::PgConnection;

use crate::config::{Config, SectionSpec};
use crate::engine::Ctx;
use crate::engine::approvals::{ApprovalRequest, Outcome};
use crate::engine::timers::Registry;
use crate::error::{Error, Result};
use crate::org::Org;
use crate::status::WorkflowStatus;
use crate::workflow::{ApprovalDecision, BoxFuture, ReviewText, Seeded, Workflow};

pub use config::ContentConfig;

pub const WORKFLOW: &str = "content";

/// The content lifecycle in the workflow list.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor;

impl Workflow for Descriptor {
    fn name(&self) -> &'static str {
        WORKFLOW
    }

    fn title(&self) -> &'static str {
        "Content lifecycle"
    }

    fn section(&self) -> Option<SectionSpec> {
        Some(SectionSpec::of::<ContentConfig>())
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

    /// An approval on a content item decides its current review (the
    /// version the approver saw, else the one the request is bound to).
    fn decide<'a>(
        &'a self,
        ctx: &'a Ctx,
        d: &'a ApprovalDecision<'a>,
    ) -> Option<BoxFuture<'a, Result<Outcome>>> {
        Some(Box::pin(async move {
            let id: i64 = d.request.entity_id.parse().map_err(|_| {
                Error::internal(format!("approval #{} names no content item", d.request.id))
            })?;
            let decided = service::decide(
                ctx,
                id,
                d.approver,
                d.decision,
                d.comment,
                d.version.or(Some(d.request.subject_version)),
            )
            .await?;
            Ok(decided.outcome)
        }))
    }

    fn review<'a>(
        &'a self,
        ctx: &'a Ctx,
        request: &'a ApprovalRequest,
    ) -> Option<BoxFuture<'a, Result<ReviewText>>> {
        Some(Box::pin(async move {
            let id: i64 = request.entity_id.parse().map_err(|_| {
                Error::internal(format!("approval #{} names no content item", request.id))
            })?;
            service::review_text(ctx, id, request.subject_version).await
        }))
    }

    fn guide(&self) -> &'static str {
        include_str!("../../../../assets/guides/content.md")
    }
}

/// Check the `[content]` section. Errors are (key, reason).
pub fn validate_config(config: &Config, org: &Org) -> Result<(), (String, String)> {
    let c = config::settings(config).map_err(|e| ("content".to_string(), e.to_string()))?;
    let check_role = |key: String, r: &str| -> Result<(), (String, String)> {
        org.check_role(r).map(|_| ()).map_err(|e| (key, e))
    };
    if c.roles.edit.is_empty() {
        return Err((
            "content.roles.edit".into(),
            "needs at least one role".into(),
        ));
    }
    for (i, r) in c.roles.edit.iter().enumerate() {
        check_role(format!("content.roles.edit[{i}]"), r)?;
    }
    if c.review_channel.trim().is_empty() {
        return Err((
            "content.review_channel".into(),
            "names the channel for review requests".into(),
        ));
    }
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

#[cfg(test)]
mod tests {
    use crate::config::{Config, EMBEDDED_DEFAULT};

    #[test]
    fn a_renamed_department_fails_the_edit_roles_by_key() {
        // Creative becomes Design in the org; the role references that still
        // say "creative" must fail the load, naming the key.
        let renamed = EMBEDDED_DEFAULT.replace("\"creative\"", "\"design\"");
        let err = Config::from_toml_str("renamed", &renamed)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("content.roles.edit[2]"), "{err}");
        assert!(err.contains("unknown department \"creative\""), "{err}");
    }
}
