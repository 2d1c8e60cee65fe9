//! Pure reading of an analysis: a verdict per metric and arm, and the
//! dimension breakdowns with their multiple-testing correction.

use serde::Serialize;

use crate::stats::{self, ArmStats, Difference, MetricKind, VariationResult, VariationStatus};

/// What a metric says about a treatment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significantly worse than the control.
    Hurt,
    /// Significantly better, or any harm is ruled out beyond the MDE.
    Fine,
    /// Not enough evidence either way (or not enough data).
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Hurt => "hurt",
            Verdict::Fine => "fine",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// Which part a metric plays in the design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricRole {
    Primary,
    Guardrail,
    Secondary,
}

impl MetricRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricRole::Primary => "primary",
            MetricRole::Guardrail => "guardrail",
            MetricRole::Secondary => "secondary",
        }
    }
}

/// Is the treatment significantly better than the control?
pub fn better(v: &VariationResult, alpha: f64) -> bool {
    match (v.p_value, v.chance_to_win, v.ci) {
        (Some(Some(p)), _, Some(ci)) => p < alpha && ci[0] > 0.0,
        (_, Some(Some(ctw)), _) => ctw > 1.0 - alpha,
        _ => false,
    }
}

/// Is the treatment significantly worse than the control?
pub fn worse(v: &VariationResult, alpha: f64) -> bool {
    match (v.p_value, v.chance_to_win, v.ci) {
        (Some(Some(p)), _, Some(ci)) => p < alpha && ci[1] < 0.0,
        (_, Some(Some(ctw)), _) => ctw < alpha,
        _ => false,
    }
}

/// The verdict of one treatment on one metric. `harm_margin` is the largest
/// drop that still counts as no harm, on the effect's scale (the MDE,
/// relative or in the control's units).
pub fn verdict(v: &VariationResult, alpha: f64, harm_margin: f64) -> Verdict {
    if v.status != VariationStatus::Ok {
        return Verdict::Inconclusive;
    }
    if worse(v, alpha) {
        return Verdict::Hurt;
    }
    if better(v, alpha) {
        return Verdict::Fine;
    }
    match v.ci {
        Some(ci) if ci[0] > -harm_margin.abs() => Verdict::Fine,
        _ => Verdict::Inconclusive,
    }
}

/// The same comparison seen from the other side: for a metric where lower
/// is better (refunds), an increase is the harm.
pub fn flipped(v: &VariationResult) -> VariationResult {
    let mut f = v.clone();
    f.lift = v.lift.map(|l| -l);
    f.ci = v.ci.map(|c| [-c[1], -c[0]]);
    f.chance_to_win = v.chance_to_win.map(|c| c.map(|c| 1.0 - c));
    f
}

/// Which way is good for a metric spec "name:kind[:lower|higher]";
/// guardrails default to lower-is-better (refunds, unsubscribes, errors),
/// other metrics to higher-is-better.
pub fn lower_is_better(spec: &str, role: MetricRole) -> Result<bool, String> {
    match spec.split(':').nth(2) {
        Some("lower") => Ok(true),
        Some("higher") => Ok(false),
        Some(other) => Err(format!(
            "metric {spec:?}: the direction {other:?} is not lower or higher"
        )),
        None => Ok(role == MetricRole::Guardrail),
    }
}

/// One treatment's comparison within one value of a dimension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreakdownRow {
    pub dimension: String,
    pub value: String,
    pub variation: String,
    pub n_control: u64,
    pub n: u64,
    pub lift: Option<f64>,
    pub ci: Option<[f64; 2]>,
    pub p_value: Option<f64>,
    /// Benjamini–Hochberg adjusted across every row of every dimension.
    pub adjusted_p_value: Option<f64>,
    pub significant: bool,
    /// Why there is no comparison (not enough data).
    pub message: Option<String>,
}

/// How breakdowns are corrected for testing many subgroups at once.
pub const BREAKDOWN_CORRECTION: &str =
    "Benjamini-Hochberg (false discovery rate) across every dimension, value and treatment";

/// One value of one dimension: (dimension, value, arms as (variation,
/// stats), the control first).
pub type Cell = (String, String, Vec<(String, ArmStats)>);

/// Compare each treatment with the control within each value of each
/// dimension (Welch test on the stats given, control first in `arms`), then
/// adjust every p-value together with Benjamini–Hochberg.
/// `cells`: (dimension, value, arms as (variation, stats)).
pub fn breakdowns(
    cells: &[Cell],
    kind: MetricKind,
    difference: Difference,
    alpha: f64,
) -> Vec<BreakdownRow> {
    let mut rows = Vec::new();
    for (dimension, value, arms) in cells {
        let Some((_, control)) = arms.first() else {
            continue;
        };
        for (name, arm) in arms.iter().skip(1) {
            let r = stats::welch(control, arm, kind, difference, alpha);
            let (lift, ci, p, message) = match r {
                Ok(r) => (Some(r.estimate), Some(r.ci), Some(r.p_value), None),
                Err(e) => (None, None, None, Some(e.to_string())),
            };
            rows.push(BreakdownRow {
                dimension: dimension.clone(),
                value: value.clone(),
                variation: name.clone(),
                n_control: control.n,
                n: arm.n,
                lift,
                ci,
                p_value: p,
                adjusted_p_value: None,
                significant: false,
                message,
            });
        }
    }
    let idx: Vec<usize> = (0..rows.len())
        .filter(|i| rows[*i].p_value.is_some())
        .collect();
    let ps: Vec<f64> = idx.iter().filter_map(|i| rows[*i].p_value).collect();
    if let Ok(adj) = stats::benjamini_hochberg(&ps) {
        for (i, a) in idx.into_iter().zip(adj) {
            rows[i].adjusted_p_value = Some(a);
            rows[i].significant = a < alpha;
        }
    }
    rows
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row(lift: f64, ci: [f64; 2], p: f64) -> VariationResult {
        VariationResult {
            name: "b".into(),
            n: 1000,
            mean: 0.1,
            lift: Some(lift),
            ci: Some(ci),
            p_value: Some(Some(p)),
            chance_to_win: None,
            risk: None,
            status: VariationStatus::Ok,
            message: None,
            theta: None,
        }
    }

    #[test]
    fn verdicts_read_the_interval() {
        assert_eq!(
            verdict(&row(0.336, [0.2, 0.47], 0.0001), 0.05, 0.1),
            Verdict::Fine
        );
        assert_eq!(
            verdict(&row(-0.3, [-0.45, -0.15], 0.0001), 0.05, 0.1),
            Verdict::Hurt
        );
        assert_eq!(
            verdict(&row(-0.02, [-0.3, 0.26], 0.8), 0.05, 0.1),
            Verdict::Inconclusive
        );
        assert_eq!(
            verdict(&row(0.0, [-0.05, 0.05], 0.9), 0.05, 0.1),
            Verdict::Fine
        );
        let mut none = row(0.0, [0.0, 0.0], 1.0);
        none.status = VariationStatus::NotEnoughData;
        assert_eq!(verdict(&none, 0.05, 0.1), Verdict::Inconclusive);
    }

    #[test]
    fn a_rise_in_refunds_hurts_a_lower_is_better_guardrail() {
        let up = row(0.336, [0.2, 0.47], 0.0001);
        assert_eq!(verdict(&flipped(&up), 0.05, 0.1), Verdict::Hurt);
        assert_eq!(
            lower_is_better("refund:binomial", MetricRole::Guardrail),
            Ok(true)
        );
        assert_eq!(
            lower_is_better("aov:mean:higher", MetricRole::Guardrail),
            Ok(false)
        );
        assert_eq!(
            lower_is_better("signup:binomial", MetricRole::Secondary),
            Ok(false)
        );
        assert!(lower_is_better("x:mean:sideways", MetricRole::Secondary).is_err());
    }

    #[test]
    fn breakdowns_are_corrected_together() {
        let arms = |c: f64, t: f64| {
            vec![
                ("control".to_string(), ArmStats::binomial(2000, c)),
                ("b".to_string(), ArmStats::binomial(2000, t)),
            ]
        };
        let cells = vec![
            (
                "device".to_string(),
                "mobile".to_string(),
                arms(100.0, 160.0),
            ),
            (
                "device".to_string(),
                "desktop".to_string(),
                arms(100.0, 112.0),
            ),
            ("segment".to_string(), "trade".to_string(), arms(100.0, 1.0)),
        ];
        let rows = breakdowns(&cells, MetricKind::Binomial, Difference::Relative, 0.05);
        assert_eq!(rows.len(), 3);
        assert!(rows[0].significant);
        assert!(!rows[1].significant);
        for r in &rows[..2] {
            assert!(r.adjusted_p_value.unwrap() >= r.p_value.unwrap());
        }
        assert!(rows[2].significant);
    }
}
