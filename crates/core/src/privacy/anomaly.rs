//! Access anomalies and the rules that turn findings into incidents, pure.

use serde::Serialize;

use super::config::IncidentRuleConfig;
use crate::crisis::Severity;

/// Thresholds for "a read rate far above that person's baseline".
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Reads above this multiple of the baseline mean...
    pub ratio: f64,
    /// ...and at least this many reads in the window.
    pub min_reads: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Anomaly {
    pub reads: u64,
    /// Mean reads per window over the baseline windows.
    pub baseline: f64,
    /// Reads over the baseline (the baseline counts as at least one read,
    /// so a person with no history is judged against one read per window).
    pub ratio: f64,
}

/// Compare a person's reads in the current window with their baseline.
pub fn detect(reads: u64, baseline: &[u64], t: Thresholds) -> Option<Anomaly> {
    let mean = if baseline.is_empty() {
        0.0
    } else {
        baseline.iter().sum::<u64>() as f64 / baseline.len() as f64
    };
    let ratio = reads as f64 / mean.max(1.0);
    (reads >= t.min_reads && ratio >= t.ratio).then_some(Anomaly {
        reads,
        baseline: mean,
        ratio,
    })
}

/// Split read timestamps (seconds before the audit) into the current window
/// and `windows` baseline windows before it; counts per window, oldest last.
pub fn bucket(ages_secs: &[i64], window_secs: i64, windows: u32) -> (u64, Vec<u64>) {
    let mut current = 0;
    let mut base = vec![0u64; windows as usize];
    if window_secs <= 0 {
        return (0, base);
    }
    for &age in ages_secs {
        if age < 0 {
            continue;
        }
        let i = age / window_secs;
        if i == 0 {
            current += 1;
        } else if let Some(slot) = usize::try_from(i - 1).ok().and_then(|i| base.get_mut(i)) {
            *slot += 1;
        }
    }
    (current, base)
}

/// The severity of the incident a finding opens, by the first matching
/// rule; None: documented, no incident.
pub fn incident_severity(
    rules: &[IncidentRuleConfig],
    finding: &str,
    ratio: Option<f64>,
) -> Option<Severity> {
    // The most severe rule that applies wins, so a high-ratio rule can
    // raise an anomaly above the base rule whatever their order.
    rules
        .iter()
        .filter(|r| r.finding == finding)
        .filter(|r| match (r.min_ratio, ratio) {
            (None, _) => true,
            (Some(min), Some(x)) => x >= min,
            (Some(_), None) => false,
        })
        .filter_map(|r| r.severity.parse::<Severity>().ok())
        .min_by_key(|s| s.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        ratio: 5.0,
        min_reads: 20,
    };

    #[test]
    fn a_burst_far_above_the_baseline_is_an_anomaly() {
        let base = [3, 4, 2, 5, 3, 3, 4, 2, 3, 4, 3, 3, 4, 2];
        let a = detect(60, &base, T);
        assert!(a.is_some_and(|a| a.ratio > 15.0 && (a.baseline - 3.2142).abs() < 0.01));
        // Busy but normal for this person.
        assert_eq!(detect(40, &[35, 42, 38, 41], T), None);
        // Far above a tiny baseline, but too few reads to matter.
        assert_eq!(detect(12, &[0, 1, 0], T), None);
        // No history at all: judged against one read per window.
        assert!(detect(25, &[], T).is_some_and(|a| a.ratio == 25.0));
    }

    #[test]
    fn reads_fall_into_windows_by_age() {
        let day = 86_400;
        let ages = [10, day - 1, day, day * 2 + 5, day * 14 + 1, day * 15, -3];
        let (cur, base) = bucket(&ages, day, 14);
        assert_eq!(cur, 2);
        assert_eq!(base.len(), 14);
        assert_eq!(base[0], 1);
        assert_eq!(base[1], 1);
        assert_eq!(base[13], 1);
        assert_eq!(
            base.iter().sum::<u64>(),
            3,
            "older than the baseline: ignored"
        );
    }

    #[test]
    fn severity_by_rule_takes_the_most_severe_that_applies() {
        let rule = |f: &str, s: &str, r: Option<f64>| IncidentRuleConfig {
            finding: f.into(),
            severity: s.into(),
            min_ratio: r,
        };
        let rules = [
            rule("access_anomaly", "P2", None),
            rule("access_anomaly", "P1", Some(20.0)),
            rule("pii_in_clear", "P1", None),
        ];
        assert_eq!(
            incident_severity(&rules, "access_anomaly", Some(6.0)),
            Some(Severity::P2)
        );
        assert_eq!(
            incident_severity(&rules, "access_anomaly", Some(25.0)),
            Some(Severity::P1)
        );
        assert_eq!(
            incident_severity(&rules, "pii_in_clear", None),
            Some(Severity::P1)
        );
        assert_eq!(incident_severity(&rules, "retention_overdue", None), None);
    }
}
