//! Design-time power analysis: sample size, duration and minimum detectable effect.
//!
//! All formulas use the normal approximation to the two-sided test of the
//! **relative** lift `d` (as GrowthBook's power calculator does). With baseline
//! mean `mu`, per-unit variance `sigma^2` (for a binomial metric with rate `p`,
//! `sigma^2 = p (1 - p)`), `n` units per variation and the treatment mean
//! `mu (1 + d)`, the delta-method variance of the estimated lift is
//!
//! ```text
//! Var(d_hat) = sigma^2 / (n mu^2) + sigma^2 mu^2 (1 + d)^2 / (n mu^4)
//!            = sigma^2 (1 + (1 + d)^2) / (n mu^2)
//! ```
//!
//! (the treatment variance is taken equal to the baseline variance). Requiring
//! `|d| / sqrt(Var(d_hat)) = z_{1 - alpha/2} + z_{power}` (the far rejection
//! tail, whose probability is below `alpha/2`, is ignored) gives
//!
//! ```text
//! n = (z_{1 - alpha/2} + z_{power})^2 sigma^2 (1 + (1 + d)^2) / (mu^2 d^2)
//! ```

use super::dist::{normal_cdf, normal_quantile, normal_sf};
use super::error::{StatsError, check_alpha};
use serde::{Deserialize, Serialize};

/// Baseline (control) metric used to plan an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "metric", rename_all = "lowercase", deny_unknown_fields)]
pub enum Baseline {
    /// Conversion metric with baseline conversion rate `rate` in (0, 1).
    Binomial {
        /// Baseline conversion rate.
        rate: f64,
    },
    /// Mean metric with baseline mean and per-unit variance.
    Mean {
        /// Baseline mean (non-zero, since the MDE is relative).
        mean: f64,
        /// Per-unit variance (positive).
        variance: f64,
    },
}

impl Baseline {
    /// `(mu, sigma^2)` after validation.
    fn moments(&self) -> Result<(f64, f64), StatsError> {
        match *self {
            Baseline::Binomial { rate } => {
                if !(rate.is_finite() && rate > 0.0 && rate < 1.0) {
                    return Err(StatsError::invalid(
                        "baseline.rate",
                        format!("must be strictly between 0 and 1 (got {rate})"),
                    ));
                }
                Ok((rate, rate * (1.0 - rate)))
            }
            Baseline::Mean { mean, variance } => {
                if !(mean.is_finite() && mean != 0.0) {
                    return Err(StatsError::invalid(
                        "baseline.mean",
                        format!(
                            "must be a finite, non-zero number for a relative effect (got {mean})"
                        ),
                    ));
                }
                if !(variance.is_finite() && variance > 0.0) {
                    return Err(StatsError::invalid(
                        "baseline.variance",
                        format!("must be a positive finite number (got {variance})"),
                    ));
                }
                Ok((mean, variance))
            }
        }
    }
}

fn default_alpha() -> f64 {
    0.05
}

fn default_power() -> f64 {
    0.8
}

fn default_variations() -> u32 {
    2
}

/// Inputs of the sample-size calculation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerDesign {
    /// Two-sided significance level (default 0.05).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Desired power, the probability of detecting an effect of size `relative_mde` (default 0.8).
    #[serde(default = "default_power")]
    pub power: f64,
    /// Baseline metric.
    pub baseline: Baseline,
    /// Relative minimum detectable effect, e.g. 0.05 for a 5 % lift (non-zero, greater than -1).
    pub relative_mde: f64,
    /// Number of variations including control, with traffic split equally (default 2).
    #[serde(default = "default_variations")]
    pub variations: u32,
    /// Units entering the experiment per day, across all variations.
    pub daily_traffic: f64,
}

/// Result of [`sample_size`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleSizePlan {
    /// Units needed in each variation (rounded up).
    pub per_variation: u64,
    /// Units needed across all variations.
    pub total: u64,
    /// `total / daily_traffic`, unrounded.
    pub duration_days: f64,
    /// Whole days to run: `duration_days` rounded up.
    pub planned_days: u64,
}

fn check_power(alpha: f64, power: f64) -> Result<(), StatsError> {
    check_alpha(alpha)?;
    if !(power.is_finite() && power > alpha && power < 1.0) {
        return Err(StatsError::invalid(
            "power",
            format!("must be greater than alpha ({alpha}) and less than 1 (got {power})"),
        ));
    }
    Ok(())
}

/// `z_{1 - alpha/2} + z_{power}`.
fn z_total(alpha: f64, power: f64) -> f64 {
    normal_quantile(1.0 - alpha / 2.0) + normal_quantile(power)
}

fn check_mde(relative_mde: f64) -> Result<(), StatsError> {
    if !(relative_mde.is_finite() && relative_mde != 0.0 && relative_mde > -1.0) {
        return Err(StatsError::invalid(
            "relative_mde",
            format!("must be a non-zero lift greater than -1 (got {relative_mde})"),
        ));
    }
    Ok(())
}

/// Unrounded units per variation needed to detect `relative_mde` (see the module docs).
pub fn required_n(
    baseline: &Baseline,
    relative_mde: f64,
    alpha: f64,
    power: f64,
) -> Result<f64, StatsError> {
    check_power(alpha, power)?;
    check_mde(relative_mde)?;
    let (mu, var) = baseline.moments()?;
    let z = z_total(alpha, power);
    let d = relative_mde;
    let n = z * z * var * (1.0 + (1.0 + d).powi(2)) / (mu * mu * d * d);
    if !n.is_finite() {
        return Err(StatsError::invalid(
            "relative_mde",
            "is too small: the required sample size is not finite",
        ));
    }
    Ok(n)
}

/// Sample size per variation and planned duration for a design.
///
/// `per_variation = ceil(n)` with `n` from the module-level formula,
/// `total = per_variation * variations`, `duration_days = total / daily_traffic`
/// and `planned_days = ceil(duration_days)`.
pub fn sample_size(design: &PowerDesign) -> Result<SampleSizePlan, StatsError> {
    if design.variations < 2 {
        return Err(StatsError::invalid(
            "variations",
            format!("must be at least 2 (got {})", design.variations),
        ));
    }
    if !(design.daily_traffic.is_finite() && design.daily_traffic > 0.0) {
        return Err(StatsError::invalid(
            "daily_traffic",
            format!("must be a positive number (got {})", design.daily_traffic),
        ));
    }
    let n = required_n(
        &design.baseline,
        design.relative_mde,
        design.alpha,
        design.power,
    )?;
    let too_large = || {
        StatsError::invalid(
            "relative_mde",
            "is too small: the required sample size does not fit in 64 bits",
        )
    };
    // 2^53: beyond this counts are no longer exact as f64.
    const MAX_EXACT: f64 = 9_007_199_254_740_992.0;
    let per_variation_f = n.ceil().max(2.0);
    if per_variation_f > MAX_EXACT {
        return Err(too_large());
    }
    let per_variation = per_variation_f as u64;
    let total = per_variation
        .checked_mul(u64::from(design.variations))
        .ok_or_else(too_large)?;
    let duration_days = total as f64 / design.daily_traffic;
    let planned = duration_days.ceil();
    if planned > MAX_EXACT {
        return Err(StatsError::invalid(
            "daily_traffic",
            "is too small: the planned duration does not fit in 64 bits",
        ));
    }
    Ok(SampleSizePlan {
        per_variation,
        total,
        duration_days,
        planned_days: planned as u64,
    })
}

/// Smallest positive relative lift detectable with `n_per_variation` units per
/// variation at the given `alpha` and `power` (inverse of [`required_n`]).
///
/// Solving `d^2 = k (1 + (1 + d)^2)` with `k = z^2 sigma^2 / (n mu^2)` and
/// `z = z_{1-alpha/2} + z_{power}` gives `d = (k + sqrt(2k - k^2)) / (1 - k)`,
/// which requires `k < 1`; otherwise the sample is too small for any lift and
/// an error names `n_per_variation`.
pub fn mde(
    baseline: &Baseline,
    n_per_variation: f64,
    alpha: f64,
    power: f64,
) -> Result<f64, StatsError> {
    check_power(alpha, power)?;
    if !(n_per_variation.is_finite() && n_per_variation > 0.0) {
        return Err(StatsError::invalid(
            "n_per_variation",
            format!("must be a positive number (got {n_per_variation})"),
        ));
    }
    let (mu, var) = baseline.moments()?;
    let z = z_total(alpha, power);
    let k = z * z * var / (n_per_variation * mu * mu);
    if k.is_nan() || k >= 1.0 {
        return Err(StatsError::invalid(
            "n_per_variation",
            format!(
                "is too small: at least {} units per variation are needed to detect any relative lift",
                (z * z * var / (mu * mu)).ceil()
            ),
        ));
    }
    Ok((k + (2.0 * k - k * k).sqrt()) / (1.0 - k))
}

/// Power of the two-sided fixed-horizon test to detect `relative_mde` with
/// `n_per_variation` units per variation:
/// `1 - Phi(z_{1-alpha/2} - d/se) + Phi(-z_{1-alpha/2} - d/se)` with `se` from the module docs.
pub fn power(
    baseline: &Baseline,
    relative_mde: f64,
    n_per_variation: f64,
    alpha: f64,
) -> Result<f64, StatsError> {
    check_alpha(alpha)?;
    check_mde(relative_mde)?;
    if !(n_per_variation.is_finite() && n_per_variation > 0.0) {
        return Err(StatsError::invalid(
            "n_per_variation",
            format!("must be a positive number (got {n_per_variation})"),
        ));
    }
    let (mu, var) = baseline.moments()?;
    let d = relative_mde;
    let se = (var * (1.0 + (1.0 + d).powi(2)) / (n_per_variation * mu * mu)).sqrt();
    let z_star = normal_quantile(1.0 - alpha / 2.0);
    let shift = d / se;
    Ok((normal_sf(z_star - shift) + normal_cdf(-z_star - shift)).clamp(0.0, 1.0))
}

/// A design with its traffic split: the power calculation per arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightedPlan {
    /// Units needed in each arm (in the order of the weights), fixed horizon.
    pub per_arm: Vec<u64>,
    /// Units needed across all arms, fixed horizon.
    pub total: u64,
    /// Whole days for the fixed-horizon sample.
    pub planned_days: u64,
    /// The arm that sets the duration (the one needing the most traffic,
    /// usually the smallest treatment arm).
    pub limiting_arm: usize,
    /// With sequential testing: units per arm, total and days once the
    /// always-valid interval's wider width is paid for.
    pub sequential: Option<SequentialPlan>,
}

/// The sequential design: the penalty paid for peeking at any time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialPlan {
    pub per_arm: Vec<u64>,
    pub total: u64,
    pub planned_days: u64,
    /// The tuning parameter N* of the confidence sequence: the planned total.
    pub tuning: f64,
    /// `total / fixed total`: how much more traffic peeking costs.
    pub inflation: f64,
}

/// Check a traffic split: at least two arms, every weight > 0 and finite,
/// summing to 1 within 1e-9. The error is a sentence for a person.
pub fn check_weights(weights: &[f64]) -> Result<(), StatsError> {
    if weights.len() < 2 {
        return Err(StatsError::invalid(
            "weights",
            format!(
                "an experiment needs a control and at least one variation (got {} arm{})",
                weights.len(),
                if weights.len() == 1 { "" } else { "s" }
            ),
        ));
    }
    for (i, w) in weights.iter().enumerate() {
        if !(w.is_finite() && *w > 0.0) {
            return Err(StatsError::invalid(
                format!("weights[{i}]"),
                format!(
                    "every arm needs a positive share of the traffic (got {w}); drop the arm instead of giving it 0"
                ),
            ));
        }
    }
    let sum: f64 = weights.iter().sum();
    if (sum - 1.0).abs() > 1e-9 {
        return Err(StatsError::invalid(
            "weights",
            format!(
                "the weights add up to {sum}, not 1: the traffic split must cover exactly all units"
            ),
        ));
    }
    Ok(())
}

/// `z` of the sequential interval at total sample `n` with tuning `n`:
/// the half-width divided by the standard error (see `frequentist::sequential`).
fn sequential_z(alpha: f64, n: f64) -> f64 {
    let rho2 = super::frequentist::sequential_rho(alpha, n).powi(2);
    let growth = n * rho2 + 1.0;
    (2.0 * growth * (growth.sqrt() / alpha).ln() / (n * rho2)).sqrt()
}

/// The power calculation per arm with unequal weights.
///
/// Comparing treatment `i` (weight `w_i`) with the control (weight `w_0`)
/// on `N` units in all, the relative lift's variance is
/// `sigma^2 (1/w_i + (1+d)^2/w_0) / (N mu^2)`, so the fixed-horizon test needs
/// `N_i = z^2 sigma^2 (1/w_i + (1+d)^2/w_0) / (mu^2 d^2)`; the design needs the
/// largest `N_i` (the smallest arm sets the duration), and arm `k` gets
/// `ceil(N w_k)` units. With equal weights this is [`sample_size`].
///
/// Sequential designs replace `z_{1-alpha/2}` by the confidence sequence's
/// width at the planned total, tuned to that total (`N* = N`); `N` is found by
/// fixed-point iteration.
pub fn weighted_plan(
    baseline: &Baseline,
    relative_mde: f64,
    alpha: f64,
    power: f64,
    weights: &[f64],
    daily_traffic: f64,
    sequential: bool,
) -> Result<WeightedPlan, StatsError> {
    check_power(alpha, power)?;
    check_mde(relative_mde)?;
    check_weights(weights)?;
    if !(daily_traffic.is_finite() && daily_traffic > 0.0) {
        return Err(StatsError::invalid(
            "daily_traffic",
            format!("must be a positive number (got {daily_traffic})"),
        ));
    }
    let (mu, var) = baseline.moments()?;
    let d = relative_mde;
    let w0 = weights[0];
    // K_i: N = (z_a + z_b)^2 K_i.
    let (limiting_arm, k) = weights
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, wi)| {
            (
                i,
                var * (1.0 / wi + (1.0 + d).powi(2) / w0) / (mu * mu * d * d),
            )
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .ok_or_else(|| StatsError::invalid("weights", "needs a treatment arm"))?;
    let z_power = normal_quantile(power);
    let fixed = (normal_quantile(1.0 - alpha / 2.0) + z_power).powi(2) * k;
    const MAX_EXACT: f64 = 9_007_199_254_740_992.0;
    let arms = |total: f64| -> Result<(Vec<u64>, u64, u64), StatsError> {
        if !(total.is_finite() && total * 2.0 < MAX_EXACT) {
            return Err(StatsError::invalid(
                "relative_mde",
                "is too small: the required sample size is not finite",
            ));
        }
        let per_arm: Vec<u64> = weights
            .iter()
            .map(|w| (total * w).ceil().max(2.0) as u64)
            .collect();
        let sum: u64 = per_arm.iter().sum();
        let days = (sum as f64 / daily_traffic).ceil();
        if days > MAX_EXACT {
            return Err(StatsError::invalid(
                "daily_traffic",
                "is too small: the planned duration does not fit in 64 bits",
            ));
        }
        Ok((per_arm, sum, days as u64))
    };
    let (per_arm, total, planned_days) = arms(fixed)?;
    let sequential = if sequential {
        let mut n = fixed.max(2.0);
        for _ in 0..200 {
            let next = (sequential_z(alpha, n) + z_power).powi(2) * k;
            if !next.is_finite() {
                break;
            }
            let done = (next - n).abs() < 1e-6 * n.max(1.0);
            n = next;
            if done {
                break;
            }
        }
        let (per_arm, total_s, days) = arms(n)?;
        Some(SequentialPlan {
            per_arm,
            total: total_s,
            planned_days: days,
            tuning: total_s as f64,
            inflation: total_s as f64 / total.max(1) as f64,
        })
    } else {
        None
    };
    Ok(WeightedPlan {
        per_arm,
        total,
        planned_days,
        limiting_arm,
        sequential,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn design(baseline: Baseline, mde: f64) -> PowerDesign {
        PowerDesign {
            alpha: 0.05,
            power: 0.8,
            baseline,
            relative_mde: mde,
            variations: 2,
            daily_traffic: 1000.0,
        }
    }

    #[test]
    fn binomial_reference_value() {
        // p = 0.1, +10 % lift: n = (1.959964 + 0.841621)^2 * 0.09 * (1 + 1.21) / (0.01 * 0.01)
        let n = required_n(&Baseline::Binomial { rate: 0.1 }, 0.1, 0.05, 0.8).unwrap();
        let z: f64 = 1.959_963_984_540_054 + 0.841_621_233_572_914_3;
        let expected = z * z * 0.09 * 2.21 / 1e-4;
        assert!((n - expected).abs() < 1e-6 * expected);
        let plan = sample_size(&design(Baseline::Binomial { rate: 0.1 }, 0.1)).unwrap();
        assert_eq!(plan.per_variation, expected.ceil() as u64);
        assert_eq!(plan.per_variation, 15_612);
        assert_eq!(plan.total, 2 * plan.per_variation);
        assert_eq!(
            plan.planned_days,
            (plan.total as f64 / 1000.0).ceil() as u64
        );
        assert!((plan.duration_days - plan.total as f64 / 1000.0).abs() < 1e-12);
    }

    #[test]
    fn mde_inverts_sample_size_and_power_matches() {
        for baseline in [
            Baseline::Binomial { rate: 0.03 },
            Baseline::Binomial { rate: 0.5 },
            Baseline::Mean {
                mean: 42.0,
                variance: 900.0,
            },
        ] {
            for d in [0.01, 0.05, 0.2, 1.0] {
                let n = required_n(&baseline, d, 0.05, 0.8).unwrap();
                let back = mde(&baseline, n, 0.05, 0.8).unwrap();
                assert!((back - d).abs() < 1e-9 * d.max(1.0), "d={d} back={back}");
                let p = power(&baseline, d, n, 0.05).unwrap();
                // ignoring the far tail makes the achieved power a hair above target
                assert!((0.8..0.8 + 1e-6).contains(&p), "power {p}");
            }
        }
    }

    #[test]
    fn more_variations_and_less_traffic_take_longer() {
        let base = design(Baseline::Binomial { rate: 0.2 }, 0.05);
        let two = sample_size(&base).unwrap();
        let three = sample_size(&PowerDesign {
            variations: 3,
            ..base
        })
        .unwrap();
        assert_eq!(two.per_variation, three.per_variation);
        assert!(three.duration_days > two.duration_days);
        let slow = sample_size(&PowerDesign {
            daily_traffic: 100.0,
            ..base
        })
        .unwrap();
        assert!(slow.planned_days > two.planned_days);
    }

    #[test]
    fn invalid_designs_name_the_field() {
        let field_of = |r: Result<SampleSizePlan, StatsError>| match r {
            Err(StatsError::InvalidInput { field, .. }) => field,
            other => panic!("expected invalid input, got {other:?}"),
        };
        let base = design(Baseline::Binomial { rate: 0.2 }, 0.05);
        assert_eq!(
            field_of(sample_size(&PowerDesign { alpha: 0.0, ..base })),
            "alpha"
        );
        assert_eq!(
            field_of(sample_size(&PowerDesign {
                power: 0.01,
                ..base
            })),
            "power"
        );
        assert_eq!(
            field_of(sample_size(&PowerDesign {
                relative_mde: 0.0,
                ..base
            })),
            "relative_mde"
        );
        assert_eq!(
            field_of(sample_size(&PowerDesign {
                variations: 1,
                ..base
            })),
            "variations"
        );
        assert_eq!(
            field_of(sample_size(&PowerDesign {
                daily_traffic: 0.0,
                ..base
            })),
            "daily_traffic"
        );
        assert_eq!(
            field_of(sample_size(&PowerDesign {
                baseline: Baseline::Binomial { rate: 1.0 },
                ..base
            })),
            "baseline.rate"
        );
        assert_eq!(
            field_of(sample_size(&PowerDesign {
                baseline: Baseline::Mean {
                    mean: 0.0,
                    variance: 1.0
                },
                ..base
            })),
            "baseline.mean"
        );
        assert_eq!(
            field_of(sample_size(&PowerDesign {
                relative_mde: 1e-200,
                ..base
            })),
            "relative_mde"
        );
        let err = mde(&Baseline::Binomial { rate: 0.01 }, 10.0, 0.05, 0.8).unwrap_err();
        assert!(
            matches!(err, StatsError::InvalidInput { ref field, .. } if field == "n_per_variation")
        );
    }

    #[test]
    fn design_deserializes_with_defaults() {
        let d: PowerDesign = serde_json::from_str(
            r#"{"baseline": {"metric": "binomial", "rate": 0.1}, "relative_mde": 0.1, "daily_traffic": 500}"#,
        )
        .unwrap();
        assert_eq!(d.alpha, 0.05);
        assert_eq!(d.power, 0.8);
        assert_eq!(d.variations, 2);
        assert!(serde_json::from_str::<PowerDesign>(r#"{"baseline": {"metric": "binomial", "rate": 0.1}, "relative_mde": 0.1, "daily_traffic": 500, "bogus": 1}"#).is_err());
        assert!(serde_json::from_str::<PowerDesign>(r#"{"baseline": {"metric": "binomial", "rate": 0.1, "mean": 3}, "relative_mde": 0.1, "daily_traffic": 500}"#).is_err());
        let m: Baseline =
            serde_json::from_str(r#"{"metric": "mean", "mean": 20, "variance": 100}"#).unwrap();
        assert_eq!(
            m,
            Baseline::Mean {
                mean: 20.0,
                variance: 100.0
            }
        );
    }

    fn binomial() -> Baseline {
        Baseline::Binomial { rate: 0.05 }
    }

    #[test]
    fn equal_weights_match_the_equal_split_plan() {
        let plan = weighted_plan(&binomial(), 0.1, 0.05, 0.8, &[0.5, 0.5], 1000.0, false).unwrap();
        let old = sample_size(&design(binomial(), 0.1)).unwrap();
        assert_eq!(plan.per_arm, vec![old.per_variation, old.per_variation]);
        assert_eq!(plan.total, old.total);
        assert_eq!(plan.planned_days, old.planned_days);
    }

    #[test]
    fn a_90_10_split_needs_more_units_and_days_than_50_50() {
        let even = weighted_plan(&binomial(), 0.1, 0.05, 0.8, &[0.5, 0.5], 1000.0, false).unwrap();
        let skew = weighted_plan(&binomial(), 0.1, 0.05, 0.8, &[0.9, 0.1], 1000.0, false).unwrap();
        assert_eq!(skew.limiting_arm, 1);
        assert!(
            skew.planned_days > even.planned_days,
            "{skew:?} vs {even:?}"
        );
        // The 10% arm gets a tenth of the total; the control nine times as much.
        assert!(skew.per_arm[0] >= 8 * skew.per_arm[1]);
        // Worked case: z = 2.8016, sigma^2 = 0.0475, mu^2 d^2 = 2.5e-5:
        // N = 7.8489 * 0.0475 * (1/0.1 + 1.21/0.9) / 2.5e-5 = 169,178 (arms rounded up).
        let n = skew.total as f64;
        assert!((n - 169_179.0).abs() < 3.0, "{n}");
        assert!(skew.total > 2 * even.total);
    }

    #[test]
    fn sequential_plans_pay_a_penalty_and_tune_to_the_planned_total() {
        let fixed = weighted_plan(&binomial(), 0.1, 0.05, 0.8, &[0.5, 0.5], 1000.0, false).unwrap();
        let seq = weighted_plan(&binomial(), 0.1, 0.05, 0.8, &[0.5, 0.5], 1000.0, true).unwrap();
        let s = seq.sequential.unwrap();
        assert_eq!(seq.total, fixed.total);
        assert!(s.total > fixed.total, "{s:?}");
        assert!(s.inflation > 1.2 && s.inflation < 3.0, "{s:?}");
        assert_eq!(s.tuning, s.total as f64);
        assert!(s.planned_days >= fixed.planned_days);
    }

    #[test]
    fn bad_splits_are_refused_with_a_sentence() {
        for (w, field) in [
            (vec![0.5, 0.6], "weights"),
            (vec![1.0, 0.0], "weights[1]"),
            (vec![1.0], "weights"),
            (vec![0.5, f64::NAN], "weights[1]"),
            (vec![-0.5, 1.5], "weights[0]"),
        ] {
            match check_weights(&w) {
                Err(StatsError::InvalidInput { field: f, .. }) => assert_eq!(f, field, "{w:?}"),
                other => panic!("{w:?}: {other:?}"),
            }
        }
        assert!(check_weights(&[0.9, 0.1]).is_ok());
        assert!(check_weights(&[1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]).is_ok());
    }
}
