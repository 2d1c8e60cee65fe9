//! KPI triggers: rules from config that open incidents on their own when a
//! metric reading crosses them. One ongoing condition opens one incident
//! (a partial unique index on the open incident's trigger key).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::config::TriggerConfig;
use super::model::Severity;
use super::service::{self, NewIncident, Source};
use super::store::{self, Incident};
use crate::engine::Ctx;
use crate::error::Result;
use crate::metrics;

/// A rule's condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Below(f64),
    Above(f64),
    /// Below `ratio` × the metric's average over the window before the reading.
    BelowTrailingAverage {
        ratio: f64,
        window: chrono::TimeDelta,
    },
    /// Above `ratio` × the latest reading of another metric.
    AboveRatioOf {
        other: String,
        ratio: f64,
    },
}

impl Condition {
    /// From config; errors name the missing field.
    pub fn from_config(t: &TriggerConfig) -> Result<Self, String> {
        let need =
            |v: Option<f64>, field: &str| v.ok_or_else(|| format!("`{}` needs `{field}`", t.when));
        match t.when.as_str() {
            "below" => Ok(Condition::Below(need(t.threshold, "threshold")?)),
            "above" => Ok(Condition::Above(need(t.threshold, "threshold")?)),
            "below_trailing_average" => Ok(Condition::BelowTrailingAverage {
                ratio: need(t.ratio, "ratio")?,
                window: t
                    .window
                    .ok_or_else(|| "`below_trailing_average` needs `window`".to_string())?
                    .delta(),
            }),
            "above_ratio_of" => Ok(Condition::AboveRatioOf {
                other: t
                    .other
                    .clone()
                    .ok_or_else(|| "`above_ratio_of` needs `other`".to_string())?,
                ratio: need(t.ratio, "ratio")?,
            }),
            other => Err(format!(
                "unknown condition {other:?} (below, above, below_trailing_average, above_ratio_of)"
            )),
        }
    }

    /// Is the condition met? `baseline` is the trailing average or the other
    /// metric's latest value, when the condition needs one.
    pub fn holds(&self, value: f64, baseline: Option<f64>) -> bool {
        match self {
            Condition::Below(t) => value < *t,
            Condition::Above(t) => value > *t,
            Condition::BelowTrailingAverage { ratio, .. } => {
                baseline.is_some_and(|b| b > 0.0 && value < ratio * b)
            }
            Condition::AboveRatioOf { ratio, .. } => {
                baseline.is_some_and(|b| b > 0.0 && value > ratio * b)
            }
        }
    }

    pub fn describe(&self, value: f64, baseline: Option<f64>) -> String {
        match self {
            Condition::Below(t) => format!("{value:.3} is below {t}"),
            Condition::Above(t) => format!("{value:.3} is above {t}"),
            Condition::BelowTrailingAverage { ratio, .. } => format!(
                "{value:.2} is below {ratio} x the trailing average {:.2}",
                baseline.unwrap_or_default()
            ),
            Condition::AboveRatioOf { other, ratio } => format!(
                "{value:.2} is above {ratio} x {other} ({:.2})",
                baseline.unwrap_or_default()
            ),
        }
    }
}

/// The trailing average needs a few readings before it means anything.
const MIN_TRAILING_READINGS: i64 = 3;

async fn baseline(
    conn: &mut PgConnection,
    metric: &str,
    cond: &Condition,
    at: DateTime<Utc>,
) -> Result<Option<f64>> {
    Ok(match cond {
        Condition::Below(_) | Condition::Above(_) => None,
        Condition::BelowTrailingAverage { window, .. } => {
            let (avg, n) = store::trailing_average(conn, metric, at - *window, at).await?;
            avg.filter(|_| n >= MIN_TRAILING_READINGS)
        }
        Condition::AboveRatioOf { other, .. } => store::latest_reading_at(conn, other, at).await?,
    })
}

/// What recording a reading did.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    pub reading_id: i64,
    /// Incidents this reading opened.
    pub opened: Vec<Incident>,
    /// Rules whose condition holds but already have an open incident.
    pub ongoing: Vec<String>,
}

/// Record a metric reading and evaluate the KPI rules that read it, in one
/// transaction.
pub async fn record_metric(ctx: &Ctx, metric: &str, value: f64, source: &str) -> Result<Recorded> {
    let mut tx = ctx.pool.begin().await?;
    let at = ctx.now();
    let reading_id = metrics::record(&mut tx, metric, value, at, source).await?;
    let mut opened = Vec::new();
    let mut ongoing = Vec::new();
    for rule in &super::config::settings(&ctx.config)?.triggers {
        let Ok(cond) = Condition::from_config(rule) else {
            continue;
        };
        let (subject_value, base) = if rule.metric == metric {
            (value, baseline(&mut tx, metric, &cond, at).await?)
        } else if matches!(&cond, Condition::AboveRatioOf { other, .. } if other == metric) {
            // The reference moved: re-check the rule's own latest reading.
            match store::latest_reading(&mut tx, &rule.metric).await? {
                Some(v) => (v, Some(value)),
                None => continue,
            }
        } else {
            continue;
        };
        if !cond.holds(subject_value, base) {
            continue;
        }
        if store::open_for_trigger(&mut tx, &rule.name)
            .await?
            .is_some()
        {
            ongoing.push(rule.name.clone());
            continue;
        }
        let severity: Severity = rule.severity.parse().unwrap_or(Severity::P2);
        let new = NewIncident {
            title: rule.title.clone(),
            description: format!(
                "KPI rule {:?}: {} {}.",
                rule.name,
                rule.metric,
                cond.describe(subject_value, base)
            ),
            severity,
            source: Source::KpiTrigger,
            source_ref: Some(format!("metric_reading:{reading_id}")),
            departments: rule.departments.clone(),
            commander: None,
            trigger_key: Some(rule.name.clone()),
        };
        match service::open_in(ctx, &mut tx, &new, "engine").await? {
            Some(inc) => opened.push(inc),
            None => ongoing.push(rule.name.clone()),
        }
    }
    tx.commit().await?;
    Ok(Recorded {
        reading_id,
        opened,
        ongoing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_hold_as_the_rules_say() {
        assert!(Condition::Below(1.5).holds(1.4, None));
        assert!(!Condition::Below(1.5).holds(1.5, None));
        assert!(Condition::Above(5.0).holds(6.0, None));
        let trailing = Condition::BelowTrailingAverage {
            ratio: 0.7,
            window: chrono::TimeDelta::days(7),
        };
        assert!(trailing.holds(6000.0, Some(9000.0)));
        assert!(!trailing.holds(6400.0, Some(9000.0)));
        assert!(!trailing.holds(1.0, None), "no baseline, no alarm");
        let backlog = Condition::AboveRatioOf {
            other: "daily_capacity".into(),
            ratio: 2.0,
        };
        assert!(backlog.holds(281.0, Some(140.0)));
        assert!(!backlog.holds(280.0, Some(140.0)));
    }
}
