//! Frequentist comparisons: Welch's t-test and always-valid sequential intervals.

use super::arm::{ArmStats, Difference, EffectMoments, MetricKind, effect_moments};
use super::dist::{t_sf, t_upper_quantile};
use super::error::{NotEnoughData, StatsError, check_alpha, ensure_finite};
use serde::{Deserialize, Serialize};

/// Default sequential tuning parameter (GrowthBook's default "N" of 5000).
pub const DEFAULT_SEQUENTIAL_TUNING: f64 = 5000.0;

/// Result of a frequentist two-sample comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrequentistResult {
    /// Estimated effect (relative lift or absolute difference).
    pub estimate: f64,
    /// Standard error of `estimate`.
    pub std_error: f64,
    /// Two-sided `1 - alpha` confidence interval (a confidence sequence when sequential).
    pub ci: [f64; 2],
    /// Two-sided p-value (always-valid p-value when sequential).
    pub p_value: f64,
    /// Welch–Satterthwaite degrees of freedom; `None` for the sequential test.
    pub dof: Option<f64>,
}

/// Welch–Satterthwaite degrees of freedom from the per-unit variances.
fn welch_dof(v_c: f64, n_c: f64, v_t: f64, n_t: f64) -> f64 {
    let a = v_t / n_t;
    let b = v_c / n_c;
    (a + b).powi(2) / (a * a / (n_t - 1.0) + b * b / (n_c - 1.0))
}

/// Two-sided Welch t-test of treatment vs control (GrowthBook `TwoSidedTTest`).
///
/// * effect and variance: see [`Difference`]; the relative variance uses the
///   delta method `v_t/(n_t m_c^2) + v_c m_t^2/(n_c m_c^4)`;
/// * degrees of freedom: `(v_t/n_t + v_c/n_c)^2 / (v_t^2/(n_t^2 (n_t-1)) + v_c^2/(n_c^2 (n_c-1)))`
///   computed from the per-unit variances (also for relative effects);
/// * `p = 2 P(T_dof > |estimate / se|)`, `CI = estimate ± t_{dof, 1-alpha/2} se`.
///
/// Per-unit variances follow gbstats: `p(1-p)` for binomial metrics and
/// `(sum_squares - sum^2/n)/(n-1)` for mean metrics.
pub fn welch(
    control: &ArmStats,
    treatment: &ArmStats,
    kind: MetricKind,
    difference: Difference,
    alpha: f64,
) -> Result<FrequentistResult, StatsError> {
    check_alpha(alpha)?;
    control.validate(kind, "control")?;
    treatment.validate(kind, "treatment")?;
    let m = effect_moments(control, treatment, kind, difference)?;
    welch_moments(&m, control.n, treatment.n, alpha)
}

/// The Welch test on effect moments already computed (plain or CUPED).
pub(crate) fn welch_moments(
    m: &EffectMoments,
    n_c: u64,
    n_t: u64,
    alpha: f64,
) -> Result<FrequentistResult, StatsError> {
    let se = m.variance.sqrt();
    let dof = welch_dof(m.var_c, n_c as f64, m.var_t, n_t as f64);
    if !(dof.is_finite() && dof > 0.0) {
        return Err(NotEnoughData::NonFinite("Welch degrees of freedom").into());
    }
    let statistic = m.estimate / se;
    let p_value = (2.0 * t_sf(statistic.abs(), dof)).clamp(0.0, 1.0);
    let half_width = t_upper_quantile(alpha / 2.0, dof) * se;
    let ci = [m.estimate - half_width, m.estimate + half_width];
    ensure_finite("confidence interval", &ci)?;
    ensure_finite("p-value", &[p_value])?;
    Ok(FrequentistResult {
        estimate: m.estimate,
        std_error: se,
        ci,
        p_value,
        dof: Some(dof),
    })
}

/// Mixing parameter `rho` of the asymptotic confidence sequence for a tuning
/// parameter `N*` (Waudby-Smith et al. 2023, eq. 161; as gbstats `sequential_rho`):
///
/// `rho = sqrt( (-2 ln(alpha) + ln(-2 ln(alpha) + 1)) / N* )`.
///
/// The sequence is tightest when the total sample size is near `N*`.
pub fn sequential_rho(alpha: f64, tuning: f64) -> f64 {
    let l = -2.0 * alpha.ln();
    ((l + (l + 1.0).ln()) / tuning).sqrt()
}

/// Two-sided always-valid comparison (GrowthBook `SequentialTwoSidedTTest`).
///
/// With `N = n_c + n_t`, `se` the standard error of the estimate (as in
/// [`welch`]), `s2 = se^2 N` and `rho` from [`sequential_rho`]:
///
/// * half-width `= sqrt(s2) * sqrt( 2 (N rho^2 + 1) ln( sqrt(N rho^2 + 1) / alpha ) / (N rho)^2 )`
///   (Waudby-Smith et al. 2023, eq. 9);
/// * always-valid p-value `= min(1, 1/E)` with the e-value
///   `E = exp( rho^2 z^2 N / (2 (N rho^2 + 1)) ) / sqrt(N rho^2 + 1)` and `z = estimate / se`
///   (eq. 155). It is 1 whenever the sequence is far from excluding 0.
///
/// The interval may be peeked at any time without inflating the error rate.
pub fn sequential(
    control: &ArmStats,
    treatment: &ArmStats,
    kind: MetricKind,
    difference: Difference,
    alpha: f64,
    tuning: f64,
) -> Result<FrequentistResult, StatsError> {
    check_alpha(alpha)?;
    if !(tuning.is_finite() && tuning > 0.0) {
        return Err(StatsError::invalid(
            "sequential_tuning",
            format!("must be a positive number (got {tuning})"),
        ));
    }
    control.validate(kind, "control")?;
    treatment.validate(kind, "treatment")?;
    let m = effect_moments(control, treatment, kind, difference)?;
    sequential_moments(&m, control.n, treatment.n, alpha, tuning)
}

/// The sequential test on effect moments already computed (plain or CUPED).
pub(crate) fn sequential_moments(
    m: &EffectMoments,
    n_c: u64,
    n_t: u64,
    alpha: f64,
    tuning: f64,
) -> Result<FrequentistResult, StatsError> {
    let se = m.variance.sqrt();
    let n = n_c as f64 + n_t as f64;
    let rho = sequential_rho(alpha, tuning);
    let rho2 = rho * rho;
    let s2 = m.variance * n;
    let growth = n * rho2 + 1.0;
    let half_width =
        s2.sqrt() * (2.0 * growth * (growth.sqrt() / alpha).ln() / (n * rho).powi(2)).sqrt();
    let ci = [m.estimate - half_width, m.estimate + half_width];
    // ln E = rho^2 z^2 N / (2 (N rho^2 + 1)) - ln(sqrt(N rho^2 + 1)); computed in
    // log space so a huge z gives p = 0 instead of overflowing.
    let z2n = m.estimate * m.estimate * n / m.variance;
    let log_e = rho2 * z2n / (2.0 * growth) - 0.5 * growth.ln();
    let p_value = (-log_e).exp().clamp(0.0, 1.0);
    ensure_finite("confidence interval", &ci)?;
    ensure_finite("p-value", &[p_value])?;
    Ok(FrequentistResult {
        estimate: m.estimate,
        std_error: se,
        ci,
        p_value,
        dof: None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::stats::error::Arm;

    fn close(actual: f64, expected: f64, tol: f64) {
        assert!(
            (actual - expected).abs() < tol,
            "expected {expected}, got {actual} (diff {})",
            (actual - expected).abs()
        );
    }

    // Published values have 5 decimals: allow half a unit in the last place plus 1e-6.
    const TOL: f64 = 6e-6;

    fn a() -> ArmStats {
        ArmStats::new(3407, 1396.87, 52377.9767)
    }
    fn b() -> ArmStats {
        ArmStats::new(3461, 2422.7, 134698.29)
    }

    #[test]
    fn gbstats_two_sided_relative() {
        let r = welch(&a(), &b(), MetricKind::Mean, Difference::Relative, 0.05).unwrap();
        close(r.estimate, 0.70732, TOL);
        close(r.std_error, 0.37879, TOL);
        close(r.ci[0], -0.03526, TOL);
        close(r.ci[1], 1.44989, TOL);
        close(r.p_value, 0.06191, TOL);
    }

    #[test]
    fn gbstats_two_sided_absolute() {
        let r = welch(&a(), &b(), MetricKind::Mean, Difference::Absolute, 0.05).unwrap();
        close(r.estimate, 0.29, TOL);
        close(r.std_error, 0.12478, TOL);
        close(r.ci[0], 0.04538, TOL);
        close(r.ci[1], 0.53462, TOL);
        close(r.p_value, 0.02016, TOL);
    }

    #[test]
    fn gbstats_two_sided_binomial() {
        let r = welch(
            &ArmStats::binomial(28, 14.0),
            &ArmStats::binomial(30, 16.0),
            MetricKind::Binomial,
            Difference::Relative,
            0.05,
        )
        .unwrap();
        close(r.estimate, 0.06667, TOL);
        close(r.std_error, 0.2717, TOL);
        close(r.ci[0], -0.47767, TOL);
        close(r.ci[1], 0.61101, TOL);
        close(r.p_value, 0.80707, TOL);
    }

    #[test]
    fn gbstats_sequential_tuning_1000() {
        let control = ArmStats::new(3000, 1396.87, 52377.9767);
        let r = sequential(
            &control,
            &b(),
            MetricKind::Mean,
            Difference::Relative,
            0.05,
            1000.0,
        )
        .unwrap();
        close(r.estimate, 0.50336, TOL);
        close(r.std_error, 0.33341, TOL);
        close(r.ci[0], -0.55844, TOL);
        close(r.ci[1], 1.56516, TOL);
        assert_eq!(r.p_value, 1.0);
        assert_eq!(r.dof, None);
    }

    #[test]
    fn gbstats_sequential_binomial_default_tuning() {
        let r = sequential(
            &ArmStats::binomial(3000, 1396.0),
            &ArmStats::binomial(3461, 2422.0),
            MetricKind::Binomial,
            Difference::Relative,
            0.05,
            DEFAULT_SEQUENTIAL_TUNING,
        )
        .unwrap();
        close(r.estimate, 0.50386, TOL);
        close(r.std_error, 0.03386, TOL);
        close(r.ci[0], 0.40098, TOL);
        close(r.ci[1], 0.60675, TOL);
        close(r.p_value, 0.0, TOL);
    }

    #[test]
    fn sequential_interval_is_wider_than_fixed_horizon() {
        let f = welch(&a(), &b(), MetricKind::Mean, Difference::Absolute, 0.05).unwrap();
        let s = sequential(
            &a(),
            &b(),
            MetricKind::Mean,
            Difference::Absolute,
            0.05,
            5000.0,
        )
        .unwrap();
        assert!(s.ci[1] - s.ci[0] > f.ci[1] - f.ci[0]);
        assert!(s.p_value >= f.p_value);
    }

    #[test]
    fn millions_of_units_match_the_normal_limit() {
        // dof ~ 8e7: statrs' own t quantile is wrong here; ours matches z to O(1/dof)
        let c = ArmStats::binomial(40_000_000, 4_000_000.0);
        let t = ArmStats::binomial(40_000_000, 4_004_000.0);
        let r = welch(&c, &t, MetricKind::Binomial, Difference::Relative, 0.05).unwrap();
        let z = 1.959_963_984_540_054;
        close((r.ci[1] - r.estimate) / r.std_error, z, 1e-7);
        let normal_p = 2.0 * crate::stats::dist::normal_sf(r.estimate / r.std_error);
        close(r.p_value, normal_p, 1e-7);
        assert!(r.dof.unwrap() > 1e7);
    }

    #[test]
    fn missing_variance_is_not_enough_data() {
        // gbstats test_two_sided_ttest_missing_variance: n = 2 gives negative variance
        let control = ArmStats::new(2, 1396.87, 52377.9767);
        let err = welch(&control, &b(), MetricKind::Mean, Difference::Relative, 0.05);
        // sum_squares < sum^2/n, so it is rejected as inconsistent input
        assert!(matches!(err, Err(StatsError::InvalidInput { .. })));
        // a consistent arm whose values are all equal has zero variance
        let flat = ArmStats::new(5, 10.0, 20.0);
        let err = welch(&flat, &b(), MetricKind::Mean, Difference::Relative, 0.05).unwrap_err();
        assert_eq!(
            err,
            StatsError::NotEnoughData(NotEnoughData::ZeroVariance { arm: Arm::Control })
        );
    }

    #[test]
    fn degenerate_inputs_never_produce_nan() {
        let arms = [
            ArmStats::binomial(0, 0.0),
            ArmStats::binomial(1, 1.0),
            ArmStats::binomial(2, 1.0),
            ArmStats::binomial(10, 0.0),
            ArmStats::binomial(10, 10.0),
            ArmStats::binomial(1_000_000_000, 1.0),
        ];
        for c in &arms {
            for t in &arms {
                for diff in [Difference::Relative, Difference::Absolute] {
                    for r in [
                        welch(c, t, MetricKind::Binomial, diff, 0.05),
                        sequential(c, t, MetricKind::Binomial, diff, 0.05, 5000.0),
                    ] {
                        match r {
                            Ok(r) => {
                                assert!(r.estimate.is_finite() && r.std_error.is_finite());
                                assert!(r.ci.iter().all(|x| x.is_finite()));
                                assert!((0.0..=1.0).contains(&r.p_value));
                            }
                            Err(e) => assert!(matches!(e, StatsError::NotEnoughData(_))),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        for alpha in [0.0, 1.0, -0.1, f64::NAN] {
            let err = welch(&a(), &b(), MetricKind::Mean, Difference::Relative, alpha).unwrap_err();
            assert!(matches!(err, StatsError::InvalidInput { ref field, .. } if field == "alpha"));
        }
        let err = sequential(
            &a(),
            &b(),
            MetricKind::Mean,
            Difference::Relative,
            0.05,
            0.0,
        )
        .unwrap_err();
        assert!(
            matches!(err, StatsError::InvalidInput { ref field, .. } if field == "sequential_tuning")
        );
    }

    #[test]
    fn swapping_arms_flips_absolute_difference() {
        let pairs = [
            (a(), b()),
            (ArmStats::binomial(28, 14.0), ArmStats::binomial(30, 16.0)),
            (
                ArmStats::new(50, 120.0, 400.0),
                ArmStats::new(70, 150.0, 500.0),
            ),
        ];
        for (x, y) in pairs {
            let kind = if x.sum == x.sum_squares {
                MetricKind::Binomial
            } else {
                MetricKind::Mean
            };
            let f = welch(&x, &y, kind, Difference::Absolute, 0.05).unwrap();
            let r = welch(&y, &x, kind, Difference::Absolute, 0.05).unwrap();
            close(f.estimate, -r.estimate, 1e-12);
            close(f.p_value, r.p_value, 1e-12);
            close(f.ci[0], -r.ci[1], 1e-12);
            close(f.ci[1], -r.ci[0], 1e-12);
            let fs = sequential(&x, &y, kind, Difference::Absolute, 0.05, 5000.0).unwrap();
            let rs = sequential(&y, &x, kind, Difference::Absolute, 0.05, 5000.0).unwrap();
            close(fs.estimate, -rs.estimate, 1e-12);
            close(fs.p_value, rs.p_value, 1e-12);
        }
    }

    #[test]
    fn p_values_and_intervals_are_coherent() {
        // deterministic sweep over conversion counts
        for cc in (1..100).step_by(7) {
            for tc in (1..100).step_by(5) {
                let c = ArmStats::binomial(100, cc as f64);
                let t = ArmStats::binomial(120, tc as f64);
                for diff in [Difference::Relative, Difference::Absolute] {
                    let r = welch(&c, &t, MetricKind::Binomial, diff, 0.05).unwrap();
                    assert!((0.0..=1.0).contains(&r.p_value));
                    assert!(r.ci[0] <= r.estimate && r.estimate <= r.ci[1]);
                    // CI excludes 0 exactly when p < alpha
                    let excludes = r.ci[0] > 0.0 || r.ci[1] < 0.0;
                    assert_eq!(excludes, r.p_value < 0.05, "cc={cc} tc={tc}");
                    let s = sequential(&c, &t, MetricKind::Binomial, diff, 0.05, 5000.0).unwrap();
                    assert!((0.0..=1.0).contains(&s.p_value));
                }
            }
        }
    }
}
