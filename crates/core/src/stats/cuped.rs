//! CUPED: regression adjustment with a pre-experiment covariate, as
//! GrowthBook's gbstats does it (`RegressionAdjustedStatistic`,
//! `compute_theta`; the released gbstats 0.8.0 semantics).
//!
//! Each arm carries, beside its metric's `n`, `sum`, `sum_squares`, the
//! covariate's `covariate_sum`, `covariate_sum_squares` and the sum of the
//! per-unit products `main_covariate_sum_product`.
//!
//! * `theta` is pooled across the two arms compared: the covariance of the
//!   metric and the covariate over the joint sample divided by the joint
//!   covariate variance; when either joint variance is 0, theta is 0 and the
//!   comparison reverts to the unadjusted one (as gbstats does);
//! * an arm's adjusted mean is `mean_post - theta mean_pre` and its per-unit
//!   variance `var_post + theta^2 var_pre - 2 theta cov`;
//! * covariances: `(sp - s_post s_pre / n) / (n - 1)` for both metric kinds
//!   (0 when `n <= 1`), as gbstats 0.8.0;
//! * absolute effect `adj_t - adj_c`, variance `v_t/n_t + v_c/n_c`;
//!   relative effect `(adj_t - adj_c) / |m_c|` with the *unadjusted* control
//!   mean `m_c`, variance `v_t/(n_t m_c^2) + v_c m_t^2/(n_c m_c^4)` with the
//!   unadjusted means and the adjusted variances;
//! * Welch degrees of freedom from the adjusted variances.

use super::arm::{ArmStats, Difference, EffectMoments, MetricKind, effect_moments};
use super::error::{Arm, NotEnoughData, StatsError};

/// One arm with its pre-period covariate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CupedArm {
    /// The metric during the experiment.
    pub post: ArmStats,
    /// The covariate (the metric before the experiment); `pre.n == post.n`.
    pub pre: ArmStats,
    /// Sum over units of metric x covariate.
    pub sum_products: f64,
}

fn covariance(kind: MetricKind, n: u64, sum_a: f64, sum_b: f64, sum_products: f64) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    // gbstats 0.8.0 uses the sample covariance for both kinds.
    let _ = kind;
    let nf = n as f64;
    (sum_products - sum_a * sum_b / nf) / (nf - 1.0)
}

impl CupedArm {
    fn covariance(&self, kind: MetricKind) -> f64 {
        covariance(
            kind,
            self.post.n,
            self.post.sum,
            self.pre.sum,
            self.sum_products,
        )
    }

    /// `mean_post - theta mean_pre`.
    pub fn adjusted_mean(&self, theta: f64) -> f64 {
        self.post.mean() - theta * self.pre.mean()
    }

    /// `var_post + theta^2 var_pre - 2 theta cov` (0 when `n <= 1`).
    pub fn adjusted_variance(&self, kind: MetricKind, theta: f64) -> f64 {
        if self.post.n <= 1 {
            return 0.0;
        }
        self.post.variance(kind) + theta * theta * self.pre.variance(kind)
            - 2.0 * theta * self.covariance(kind)
    }
}

/// gbstats' `compute_theta`: pooled across both arms.
pub fn theta(control: &CupedArm, treatment: &CupedArm, kind: MetricKind) -> f64 {
    let n = control.post.n + treatment.post.n;
    let joint =
        |a: &ArmStats, b: &ArmStats| ArmStats::new(n, a.sum + b.sum, a.sum_squares + b.sum_squares);
    let post = joint(&control.post, &treatment.post);
    let pre = joint(&control.pre, &treatment.pre);
    let (v_post, v_pre) = (post.variance(kind), pre.variance(kind));
    if v_pre == 0.0 || v_post == 0.0 || !v_pre.is_finite() {
        return 0.0;
    }
    let cov = covariance(
        kind,
        n,
        post.sum,
        pre.sum,
        control.sum_products + treatment.sum_products,
    );
    let t = cov / v_pre;
    if t.is_finite() { t } else { 0.0 }
}

/// Effect moments with regression adjustment, and the theta used (0: the
/// comparison reverted to the unadjusted one).
pub(crate) fn cuped_moments(
    control: &CupedArm,
    treatment: &CupedArm,
    kind: MetricKind,
    difference: Difference,
) -> Result<(EffectMoments, f64), StatsError> {
    let th = theta(control, treatment, kind);
    if th == 0.0 {
        return Ok((
            effect_moments(&control.post, &treatment.post, kind, difference)?,
            0.0,
        ));
    }
    for (arm, stats) in [(Arm::Control, control), (Arm::Treatment, treatment)] {
        if stats.post.n == 0 {
            return Err(NotEnoughData::EmptyArm { arm }.into());
        }
        if stats.post.n < 2 {
            return Err(NotEnoughData::TooFewUnits {
                arm,
                n: stats.post.n,
            }
            .into());
        }
        let v = stats.adjusted_variance(kind, th);
        if v.is_nan() || v <= 0.0 {
            return Err(NotEnoughData::ZeroVariance { arm }.into());
        }
    }
    let (a_c, a_t) = (control.adjusted_mean(th), treatment.adjusted_mean(th));
    let (v_c, v_t) = (
        control.adjusted_variance(kind, th),
        treatment.adjusted_variance(kind, th),
    );
    let (n_c, n_t) = (control.post.n as f64, treatment.post.n as f64);
    let (estimate, variance) = match difference {
        Difference::Absolute => (a_t - a_c, v_t / n_t + v_c / n_c),
        Difference::Relative => {
            let (m_c, m_t) = (control.post.mean(), treatment.post.mean());
            if m_c == 0.0 || a_c == 0.0 {
                return Err(NotEnoughData::ZeroControlMean.into());
            }
            let m_c2 = m_c * m_c;
            (
                (a_t - a_c) / m_c.abs(),
                v_t / (n_t * m_c2) + v_c * m_t * m_t / (n_c * m_c2 * m_c2),
            )
        }
    };
    if !estimate.is_finite() {
        return Err(NotEnoughData::NonFinite("effect estimate").into());
    }
    if !variance.is_finite() || variance <= 0.0 {
        return Err(NotEnoughData::DegenerateVariance.into());
    }
    Ok((
        EffectMoments {
            estimate,
            variance,
            var_c: v_c,
            var_t: v_t,
        },
        th,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::stats::{AnalysisInput, StatsError, analyze, analyze_json};
    use serde_json::{Value, json};

    /// Within 1e-6 absolute plus 1e-4 relative of gbstats.
    fn agrees(case: &str, what: &str, got: f64, want: f64) {
        let tol = 1e-6 + 1e-4 * want.abs();
        assert!(
            (got - want).abs() <= tol,
            "{case}: {what} is {got}, gbstats says {want} (diff {})",
            (got - want).abs()
        );
    }

    /// 36 random cases (mean and binomial metrics, relative and absolute
    /// effects, Welch, sequential and Bayesian) computed by gbstats 0.8.0
    /// (`testdata/cuped_gbstats_gen.py`).
    #[test]
    fn random_cases_agree_with_gbstats() {
        let cases: Vec<Value> =
            serde_json::from_str(include_str!("testdata/cuped_gbstats.json")).unwrap();
        assert_eq!(cases.len(), 36);
        for c in &cases {
            let name = c["case"].as_str().unwrap();
            let input: AnalysisInput = serde_json::from_value(c["input"].clone()).unwrap();
            let out = analyze(&input).unwrap();
            let v = &out.variations[1];
            let e = &c["expected"];
            agrees(
                name,
                "theta",
                v.theta.unwrap(),
                e["theta"].as_f64().unwrap(),
            );
            agrees(name, "lift", v.lift.unwrap(), e["lift"].as_f64().unwrap());
            let ci = v.ci.unwrap();
            agrees(name, "ci low", ci[0], e["ci"][0].as_f64().unwrap());
            agrees(name, "ci high", ci[1], e["ci"][1].as_f64().unwrap());
            if let Some(p) = e["p_value"].as_f64() {
                agrees(name, "p-value", v.p_value.unwrap().unwrap(), p);
            }
            if let Some(ctw) = e["chance_to_win"].as_f64() {
                agrees(
                    name,
                    "chance to win",
                    v.chance_to_win.unwrap().unwrap(),
                    ctw,
                );
                let risk = v.risk.unwrap().unwrap();
                agrees(
                    name,
                    "risk control",
                    risk[0],
                    e["risk"][0].as_f64().unwrap(),
                );
                agrees(
                    name,
                    "risk treatment",
                    risk[1],
                    e["risk"][1].as_f64().unwrap(),
                );
            }
        }
    }

    /// gbstats' published regression-adjusted vector
    /// (`test_sequential_test_runs_ra`, tuning 5000, rounded to 5 decimals).
    #[test]
    fn published_sequential_regression_adjusted_vector() {
        let out = analyze_json(
            &json!({
                "metric": "mean", "sequential": true, "cuped": true,
                "variations": [
                    {"name": "a", "n": 3000, "sum": 1396.87, "sum_squares": 52377.9767,
                     "covariate_sum": 16.87, "covariate_sum_squares": 527.9767, "main_covariate_sum_product": 1},
                    {"name": "b", "n": 3461, "sum": 2422.7, "sum_squares": 134698.29,
                     "covariate_sum": 22.7, "covariate_sum_squares": 1348.29, "main_covariate_sum_product": 1}
                ]
            })
            .to_string(),
        )
        .unwrap();
        let b = &out.variations[1];
        let close = |got: f64, want: f64| assert!((got - want).abs() < 6e-6, "{got} vs {want}");
        close(b.lift.unwrap(), 0.50338);
        close(b.ci.unwrap()[0], -0.50969);
        close(b.ci.unwrap()[1], 1.51646);
        assert_eq!(b.p_value, Some(Some(1.0)));
    }

    #[test]
    fn cuped_without_the_covariate_is_refused_naming_the_field() {
        let mut v = json!({
            "metric": "mean", "cuped": true,
            "variations": [
                {"name": "a", "n": 100, "sum": 50, "sum_squares": 80,
                 "covariate_sum": 40, "covariate_sum_squares": 60, "main_covariate_sum_product": 55},
                {"name": "b", "n": 100, "sum": 55, "sum_squares": 90,
                 "covariate_sum": 41, "covariate_sum_squares": 62}
            ]
        });
        match analyze_json(&v.to_string()) {
            Err(StatsError::InvalidInput { field, reason }) => {
                assert_eq!(field, "variations[1].main_covariate_sum_product");
                assert!(reason.contains("cuped"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        v["variations"][1]["main_covariate_sum_product"] = json!(60);
        assert!(analyze_json(&v.to_string()).is_ok());
        v["cuped"] = json!(false);
        let plain = analyze_json(&v.to_string()).unwrap();
        assert_eq!(plain.variations[1].theta, None);
    }

    #[test]
    fn a_constant_covariate_reverts_to_the_unadjusted_test() {
        let arm = |n: u64, s: f64, ss: f64| CupedArm {
            post: ArmStats::new(n, s, ss),
            pre: ArmStats::new(n, 2.0 * n as f64, 4.0 * n as f64),
            sum_products: 2.0 * s,
        };
        let (c, t) = (arm(100, 50.0, 80.0), arm(100, 60.0, 95.0));
        assert_eq!(theta(&c, &t, MetricKind::Mean), 0.0);
        let (m, th) = cuped_moments(&c, &t, MetricKind::Mean, Difference::Relative).unwrap();
        let plain =
            effect_moments(&c.post, &t.post, MetricKind::Mean, Difference::Relative).unwrap();
        assert_eq!(th, 0.0);
        assert_eq!(m, plain);
    }
}
