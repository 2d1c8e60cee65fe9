//! Crisis metrics: MTTA, MTTR, time in each phase, SLA breaches — per
//! severity, for incidents opened in a period.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::model::{Phase, Severity, Status};
use super::store::Incident;
use crate::engine::Ctx;
use crate::error::Result;

#[derive(Debug, Clone, Default, Serialize)]
pub struct SeverityMetrics {
    pub opened: u32,
    pub acknowledged: u32,
    pub resolved: u32,
    pub open_now: u32,
    /// Mean time to acknowledge, seconds (first acknowledgement).
    pub mtta_seconds: Option<f64>,
    /// Mean time to resolve, seconds (latest resolution).
    pub mttr_seconds: Option<f64>,
    /// Acknowledged after the deadline, or still unacknowledged past it.
    pub ack_sla_breaches: u32,
    pub phase_overruns: u32,
    /// Mean seconds spent in each phase (phases an incident reached).
    pub mean_phase_seconds: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub by_severity: BTreeMap<String, SeverityMetrics>,
    pub all: SeverityMetrics,
}

/// Seconds spent in each phase, from phase-change moments: pure.
/// `changes` are (moment, phase entered), in order; the last phase runs
/// until `end`.
pub fn phase_durations(
    opened: DateTime<Utc>,
    changes: &[(DateTime<Utc>, Phase)],
    end: DateTime<Utc>,
) -> Vec<(Phase, i64)> {
    let mut out = Vec::new();
    let mut current = (opened, Phase::Detection);
    for (at, phase) in changes {
        out.push((current.1, (*at - current.0).num_seconds().max(0)));
        current = (*at, *phase);
    }
    out.push((current.1, (end - current.0).num_seconds().max(0)));
    out
}

fn mean(v: &[i64]) -> Option<f64> {
    if v.is_empty() {
        None
    } else {
        Some(v.iter().sum::<i64>() as f64 / v.len() as f64)
    }
}

#[derive(Default)]
struct Acc {
    m: SeverityMetrics,
    ack: Vec<i64>,
    res: Vec<i64>,
    phases: BTreeMap<Phase, Vec<i64>>,
}

impl Acc {
    fn finish(mut self) -> SeverityMetrics {
        self.m.mtta_seconds = mean(&self.ack);
        self.m.mttr_seconds = mean(&self.res);
        self.m.mean_phase_seconds = self
            .phases
            .into_iter()
            .filter_map(|(p, v)| mean(&v).map(|m| (p.key().to_string(), m)))
            .collect();
        self.m
    }
}

/// Metrics of real incidents: simulated ones (`vivid simulate`) are left out.
pub async fn metrics(ctx: &Ctx, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Report> {
    metrics_with(ctx, from, to, false).await
}

/// `metrics`, counting simulated incidents too when `include_simulated`.
pub async fn metrics_with(
    ctx: &Ctx,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    include_simulated: bool,
) -> Result<Report> {
    let mut conn = ctx.pool.acquire().await?;
    let incidents: Vec<Incident> = super::store::list(
        &mut conn,
        &super::store::ListFilter {
            limit: 100_000,
            include_simulated,
            ..Default::default()
        },
    )
    .await?
    .into_iter()
    .filter(|i| i.opened_at >= from && i.opened_at < to)
    .collect();
    let ids: Vec<String> = incidents.iter().map(|i| i.id.to_string()).collect();
    let changes = super::store::phase_changes(&mut conn, &ids).await?;
    let overruns = super::store::overrun_counts(&mut conn, &ids).await?;
    let now = ctx.now();
    let mut by: BTreeMap<Severity, Acc> = BTreeMap::new();
    let mut all = Acc::default();
    for inc in &incidents {
        let sev = inc.severity;
        let key = inc.id.to_string();
        let my_changes: Vec<(DateTime<Utc>, Phase)> = changes
            .iter()
            .filter(|(id, _, _)| *id == key)
            .filter_map(|(_, at, p)| p.parse().ok().map(|p| (*at, p)))
            .collect();
        let end = inc.closed_at.unwrap_or(now);
        let durations = phase_durations(inc.opened_at, &my_changes, end);
        let overrun = overruns
            .iter()
            .find(|(id, _)| *id == key)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        for acc in [by.entry(sev).or_default(), &mut all] {
            acc.m.opened += 1;
            if let Some(at) = inc.acknowledged_at {
                acc.m.acknowledged += 1;
                acc.ack.push((at - inc.opened_at).num_seconds());
                if at > inc.ack_deadline {
                    acc.m.ack_sla_breaches += 1;
                }
            } else if now > inc.ack_deadline && inc.status == Status::Triggered {
                acc.m.ack_sla_breaches += 1;
            }
            if let Some(at) = inc.resolved_at {
                acc.m.resolved += 1;
                acc.res.push((at - inc.opened_at).num_seconds());
            }
            if inc.status.is_open() {
                acc.m.open_now += 1;
            }
            acc.m.phase_overruns += u32::try_from(overrun).unwrap_or(0);
            for (phase, secs) in &durations {
                acc.phases.entry(*phase).or_default().push(*secs);
            }
        }
    }
    Ok(Report {
        from,
        to,
        by_severity: by
            .into_iter()
            .map(|(s, a)| (s.to_string(), a.finish()))
            .collect(),
        all: all.finish(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_durations_split_the_life_of_an_incident() {
        let t = |s: i64| DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default();
        let d = phase_durations(
            t(0),
            &[(t(60), Phase::Triage), (t(200), Phase::InternalComms)],
            t(260),
        );
        assert_eq!(
            d,
            vec![
                (Phase::Detection, 60),
                (Phase::Triage, 140),
                (Phase::InternalComms, 60)
            ]
        );
    }
}
