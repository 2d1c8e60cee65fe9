//! The alert check of a running experiment: a timer per running experiment,
//! every `[experiments] check_every`, reads the analysis and tells the owner
//! and the `[experiments] alert` roles (the Analytics director) of a
//! sample-ratio mismatch, a significantly hurt guardrail, or that it is
//! ready to decide — each condition once (outbox dedupe keys). Imports run
//! the same check at once.

use sqlx::PgConnection;

use super::WORKFLOW;
use super::model::{State, StopCheck};
use super::report::Verdict;
use super::service::{self, Report};
use super::store;
use crate::engine::Ctx;
use crate::engine::outbox::{self, NewNotification};
use crate::engine::timers::{self as engine_timers, HandlerFuture, NewTimer, Timer};
use crate::error::{Error, Result};

/// A running experiment's alert check is due.
pub const CHECK_TIMER: &str = "experiments.check";

/// (Re)start the check: one `check_every` from now.
pub(super) async fn schedule_check(ctx: &Ctx, conn: &mut PgConnection, exp_id: i64) -> Result<()> {
    let now = ctx.now();
    let due = now + super::config::settings(&ctx.config)?.check_every.delta();
    engine_timers::schedule(
        conn,
        &NewTimer::new(CHECK_TIMER, WORKFLOW, exp_id, due),
        now,
    )
    .await?;
    Ok(())
}

/// Stop checking (the experiment is decided).
pub(super) async fn cancel_check(conn: &mut PgConnection, exp_id: i64) -> Result<()> {
    engine_timers::cancel(conn, WORKFLOW, &exp_id.to_string(), Some(CHECK_TIMER)).await?;
    Ok(())
}

/// One alert: a condition with its dedupe key, subject and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub key: String,
    pub subject: String,
    pub body: String,
    pub severity: &'static str,
}

/// The alerts an analysis raises (pure).
pub fn alerts(r: &Report) -> Vec<Alert> {
    let e = &r.experiment;
    let mut out = Vec::new();
    if r.srm.mismatch {
        out.push(Alert {
            key: "srm".into(),
            subject: format!("Sample ratio mismatch in experiment {}", e.key),
            body: format!(
                "{} Units so far: {}. Check the assignment before reading any result.",
                r.srm.sentence,
                r.srm
                    .arms
                    .iter()
                    .map(|(k, n, w)| format!("{k} {n} (planned {:.0}%)", w * 100.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            severity: "warning",
        });
    }
    for g in &r.guardrails {
        for v in g.verdicts.iter().filter(|v| v.verdict == Verdict::Hurt) {
            out.push(Alert {
                key: format!("guardrail:{}:{}", g.metric, v.variation),
                subject: format!(
                    "Guardrail {} hurt by {} in experiment {}",
                    g.metric, v.variation, e.key
                ),
                body: format!(
                    "{}. Consider stopping {} (vivid experiment decide {} --abandon --reason ...).",
                    v.sentence, v.variation, e.key
                ),
                severity: "warning",
            });
        }
    }
    if let StopCheck::MayStop { reason } = &r.stop
        && !r.srm.mismatch
    {
        out.push(Alert {
            key: "ready".into(),
            subject: format!("Experiment {} is ready to decide", e.key),
            body: format!(
                "{reason}. {} Decide with vivid experiment decide {} --winner KEY or --abandon.",
                r.summary.first().cloned().unwrap_or_default(),
                e.key
            ),
            severity: "info",
        });
    }
    out
}

/// Who hears of alerts: the owner and the `[experiments] alert` roles.
fn alert_recipients(ctx: &Ctx, owner: &str) -> Result<Vec<String>> {
    let cfg = super::config::settings(&ctx.config)?;
    let mut out = vec![owner.to_string()];
    for role in super::config::role_refs("alert", &cfg.alert)? {
        for p in ctx.org.with_role(&role) {
            if !out.contains(&p.handle) {
                out.push(p.handle.clone());
            }
        }
    }
    Ok(out)
}

/// Analyse a running experiment and queue its new alerts (each condition
/// once per person). Returns the alerts raised (queued now or before).
pub async fn check(ctx: &Ctx, conn: &mut PgConnection, exp_id: i64) -> Result<Vec<Alert>> {
    let exp = store::find(conn, &exp_id.to_string()).await?;
    if exp.state != State::Running {
        return Ok(Vec::new());
    }
    let report = service::analyze_with(ctx, &exp_id.to_string(), false).await?;
    let raised = alerts(&report);
    let who = alert_recipients(ctx, &exp.owner)?;
    for a in &raised {
        for h in &who {
            let n = NewNotification::to_person(h, WORKFLOW, exp.id, a.subject.clone())
                .body(a.body.clone())
                .severity(a.severity)
                .dedupe(format!("experiments:{}:{}:{h}", exp.id, a.key))
                .payload(serde_json::json!({ "experiment_id": exp.id, "kind": "experiment_alert", "alert": a.key }));
            outbox::enqueue(ctx, conn, &n).await?;
        }
    }
    Ok(raised)
}

/// The timer: check, then check again one period later while it runs.
pub fn on_check<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move {
        let id: i64 = t
            .entity_id
            .parse()
            .map_err(|_| Error::internal("experiment timer without an experiment id"))?;
        let exp = store::find(conn, &id.to_string()).await?;
        if exp.state != State::Running {
            return Ok(());
        }
        check(ctx, conn, id).await?;
        schedule_check(ctx, conn, id).await
    })
}
