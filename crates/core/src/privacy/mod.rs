//! Compliance and data privacy: the seed's flow run for real. Collected
//! fields are classified by rules (unclassified ones are refused); PII is
//! sealed with AES-256-GCM under a per-subject data key wrapped by a master
//! key from the environment, non-PII goes to analytics in clear; every read
//! of PII is checked against the category's roles and logged with its
//! purpose in an append-only log; scheduled audits document compliance or
//! raise findings that open privacy incidents in the crisis workflow;
//! breaches run the 72-hour notification clock to an approved close-out;
//! data-subject requests (access, rectification, erasure by crypto-shredding)
//! run their one-calendar-month clock; a report covers any period.

pub mod anomaly;
pub mod audit;
pub mod classify;
pub mod config;
pub mod crypto;
pub mod deadline;
pub mod demo;
pub mod model;
pub mod read;
pub mod report;
pub mod ropa;
pub mod service;
pub mod store;
pub mod timers;

pub use config::PrivacyConfig;

use sqlx::PgConnection;

use crate::config::{Config, SectionSpec};
use crate::engine::Ctx;
use crate::engine::approvals::Outcome;
use crate::engine::timers::Registry;
use crate::error::{Error, Result};
use crate::org::Org;
use crate::status::WorkflowStatus;
use crate::workflow::{ApprovalDecision, BoxFuture, Seeded, SimStep, Workflow};

/// The workflow's name in events, timers, approvals and notifications.
pub const WORKFLOW: &str = "privacy";

/// Compliance and data privacy in the workflow list.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor;

impl Workflow for Descriptor {
    fn name(&self) -> &'static str {
        WORKFLOW
    }

    fn title(&self) -> &'static str {
        "Compliance and data privacy"
    }

    fn section(&self) -> Option<SectionSpec> {
        Some(SectionSpec::of::<PrivacyConfig>())
    }

    fn validate(&self, config: &Config, org: &Org) -> Result<(), (String, String)> {
        validate_config(config, org)
    }

    fn timers(&self, r: &mut Registry) {
        register_timers(r);
    }

    fn tile<'a>(
        &'a self,
        ctx: &'a Ctx,
        conn: &'a mut PgConnection,
    ) -> BoxFuture<'a, Result<WorkflowStatus>> {
        Box::pin(report::tile(conn, ctx.now()))
    }

    /// Customers with personal data are sealed with the master key: without
    /// one the part waits for a run that has it.
    fn seed<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Seeded>> {
        Box::pin(async move {
            let Some(key) = crypto::ambient_key()? else {
                return Ok(Seeded::Skipped("VIVID_MASTER_KEY is not set".into()));
            };
            demo::seed(ctx, &key).await?;
            Ok(Seeded::Loaded)
        })
    }

    fn simulator(&self) -> Option<Box<dyn SimStep>> {
        Some(Box::new(demo::Simulation))
    }

    /// A breach close-out approval decides the breach's close-out; an
    /// erasure approval decides the erasure (four eyes).
    fn decide<'a>(
        &'a self,
        ctx: &'a Ctx,
        d: &'a ApprovalDecision<'a>,
    ) -> Option<BoxFuture<'a, Result<Outcome>>> {
        Some(Box::pin(async move {
            let entity = d.request.entity_id.as_str();
            let id = |prefix: &str| -> Option<i64> { entity.strip_prefix(prefix)?.parse().ok() };
            if let Some(id) = id("breach:") {
                let (_, outcome) =
                    service::decide_closeout(ctx, id, d.approver, d.decision, d.comment).await?;
                return Ok(outcome);
            }
            if let Some(id) = id("erasure:") {
                let (_, outcome, _) =
                    service::decide_erasure(ctx, id, d.approver, d.decision, d.comment).await?;
                return Ok(outcome);
            }
            Err(Error::internal(format!(
                "approval #{} names neither a breach nor an erasure",
                d.request.id
            )))
        }))
    }

    fn guide(&self) -> &'static str {
        include_str!("../../../../assets/guides/privacy.md")
    }
}

fn register_timers(r: &mut Registry) {
    r.clock_owner(WORKFLOW, timers::Clocks);
    r.register(timers::AUDIT_TIMER, audit::on_audit);
    r.register(timers::REQUEST_REMIND_TIMER, timers::on_request_remind);
    r.register(timers::REQUEST_DUE_TIMER, timers::on_request_due);
    r.register(timers::BREACH_REMIND_TIMER, timers::on_breach_remind);
    r.register(timers::BREACH_DUE_TIMER, timers::on_breach_due);
    r.register(timers::TASK_DUE_TIMER, timers::on_task_due);
    r.register(timers::VERIFY_STALL_TIMER, timers::on_verify_stalled);
}

/// Check the `[privacy]` section against the org. Errors are (key, reason).
pub fn validate_config(config: &Config, org: &Org) -> Result<(), (String, String)> {
    let p = config::settings(config).map_err(|e| ("privacy".to_string(), e.to_string()))?;
    let check_roles =
        |key: &str, list: &[String], non_empty: bool| -> Result<(), (String, String)> {
            if non_empty && list.is_empty() {
                return Err((format!("privacy.{key}"), "needs at least one role".into()));
            }
            for (i, r) in list.iter().enumerate() {
                let k = format!("privacy.{key}[{i}]");
                let role: crate::org::RoleRef = r.parse().map_err(|e| (k.clone(), e))?;
                if let Some(d) = &role.department
                    && org.department(d).is_none()
                {
                    return Err((k, format!("unknown department {d:?}")));
                }
            }
            Ok(())
        };
    for (key, list) in [
        ("request_handlers", &p.request_handlers),
        ("officers", &p.officers),
        ("responders", &p.responders),
        ("closeout_approvers", &p.closeout_approvers),
        ("erasure_approvers", &p.erasure_approvers),
        ("key_custodians", &p.key_custodians),
    ] {
        check_roles(key, list, true)?;
    }
    for (key, d) in [
        ("privacy.audit_every", p.audit_every),
        ("privacy.breach.notify_within", p.breach.notify_within),
        (
            "privacy.breach.closeout_deadline",
            p.breach.closeout_deadline,
        ),
        ("privacy.breach.task_due", p.breach.task_due),
        ("privacy.anomaly.window", p.anomaly.window),
        (
            "privacy.requests.verify_remind_after",
            p.requests.verify_remind_after,
        ),
    ] {
        if d.is_zero() {
            return Err((key.into(), "must be longer than zero".into()));
        }
    }
    if org.person(&p.contact_point).is_none() {
        return Err((
            "privacy.contact_point".into(),
            format!("unknown person {:?}", p.contact_point),
        ));
    }
    for (i, d) in p.incident_departments.iter().enumerate() {
        if org.department(d).is_none() {
            return Err((
                format!("privacy.incident_departments[{i}]"),
                format!("unknown department {d:?}"),
            ));
        }
    }
    if p.requests.months == 0 {
        return Err((
            "privacy.requests.months".into(),
            "must be at least 1".into(),
        ));
    }
    if p.requests.max_extension_months > 2 {
        return Err((
            "privacy.requests.max_extension_months".into(),
            "the GDPR allows at most two further months".into(),
        ));
    }
    if !(p.anomaly.ratio > 1.0 && p.anomaly.ratio.is_finite()) {
        return Err(("privacy.anomaly.ratio".into(), "must be above 1".into()));
    }
    for (i, d) in p.detect.iter().enumerate() {
        if classify::Detector::parse(d).is_none() {
            return Err((
                format!("privacy.detect[{i}]"),
                format!("unknown detector {d:?} (email, phone, payment_card, ip_address, iban)"),
            ));
        }
    }
    if p.purposes.is_empty() {
        return Err((
            "privacy.purposes".into(),
            "at least one purpose is needed".into(),
        ));
    }
    for (i, name) in p.purposes.iter().enumerate() {
        if !classify::valid_purpose_name(name) {
            return Err((
                format!("privacy.purposes[{i}]"),
                format!("{name:?} is not a purpose name (lower-case letters, digits and _)"),
            ));
        }
    }
    for (i, name) in p.restricted_purposes.iter().enumerate() {
        if !p.purposes.contains(name) {
            return Err((
                format!("privacy.restricted_purposes[{i}]"),
                format!("{name:?} is not one of privacy.purposes"),
            ));
        }
    }
    if p.categories.is_empty() {
        return Err((
            "privacy.categories".into(),
            "at least one category is needed".into(),
        ));
    }
    for (name, c) in &p.categories {
        if c.pii && c.readers.is_empty() {
            return Err((
                format!("privacy.categories.{name}.readers"),
                "a PII category needs the roles that may read it".into(),
            ));
        }
        check_roles(&format!("categories.{name}.readers"), &c.readers, false)?;
        for (i, purpose) in c.purposes.iter().enumerate() {
            if !p.purposes.contains(purpose) {
                return Err((
                    format!("privacy.categories.{name}.purposes[{i}]"),
                    format!("{purpose:?} is not one of privacy.purposes"),
                ));
            }
        }
        if !c.legal_basis.is_empty() && !config::LEGAL_BASES.contains(&c.legal_basis.as_str()) {
            return Err((
                format!("privacy.categories.{name}.legal_basis"),
                format!(
                    "{:?} is not a legal basis of Art. 6(1) ({})",
                    c.legal_basis,
                    config::LEGAL_BASES.join(", ")
                ),
            ));
        }
    }
    if let Some((key, reason)) = ropa::gaps(p).into_iter().next() {
        return Err((key, reason));
    }
    if p.rules.is_empty() {
        return Err((
            "privacy.rules".into(),
            "at least one classification rule is needed".into(),
        ));
    }
    for (i, r) in p.rules.iter().enumerate() {
        if !p.categories.contains_key(&r.category) {
            return Err((
                format!("privacy.rules[{i}].category"),
                format!("unknown category {:?}", r.category),
            ));
        }
        if r.fields.is_empty() {
            return Err((
                format!("privacy.rules[{i}].fields"),
                "needs at least one field name".into(),
            ));
        }
        for (j, f) in r.fields.iter().enumerate() {
            let literal = f.replace('*', "x");
            if !classify::valid_field_name(&literal) {
                return Err((
                    format!("privacy.rules[{i}].fields[{j}]"),
                    format!(
                        "{f:?} is not a field name or glob (lower-case letters, digits, _ and *)"
                    ),
                ));
            }
        }
    }
    for (i, r) in p.incident_rules.iter().enumerate() {
        r.severity
            .parse::<crate::crisis::Severity>()
            .map_err(|e| (format!("privacy.incident_rules[{i}].severity"), e))?;
        if !audit::FINDING_KINDS.contains(&r.finding.as_str()) {
            return Err((
                format!("privacy.incident_rules[{i}].finding"),
                format!(
                    "unknown finding kind {:?} (kinds: {})",
                    r.finding,
                    audit::FINDING_KINDS.join(", ")
                ),
            ));
        }
    }
    Ok(())
}
