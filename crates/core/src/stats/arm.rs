//! Sufficient statistics of one variation and the effect estimate built from two of them.

use serde::{Deserialize, Serialize};

use super::error::{Arm, NotEnoughData, StatsError};

/// Kind of metric, which decides how the per-unit variance is estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// 0/1 conversion metric; `sum` counts conversions and `sum_squares == sum`.
    #[default]
    Binomial,
    /// Any numeric metric summarised by `n`, `sum` and `sum_squares`.
    Mean,
}

/// Scale on which treatment and control are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Difference {
    /// Lift: `(mean_t - mean_c) / |mean_c|` (equals `mean_t / mean_c - 1` for a positive control mean).
    #[default]
    Relative,
    /// Difference of means: `mean_t - mean_c`.
    Absolute,
}

/// Sufficient statistics of one variation.
///
/// For a binomial metric `sum` is the number of conversions and
/// `sum_squares` equals `sum` (values are 0/1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ArmStats {
    /// Number of units (users) in the arm.
    pub n: u64,
    /// Sum of the metric over the units.
    pub sum: f64,
    /// Sum of the squared metric over the units.
    pub sum_squares: f64,
}

impl ArmStats {
    /// Statistics of a mean metric.
    pub fn new(n: u64, sum: f64, sum_squares: f64) -> Self {
        ArmStats {
            n,
            sum,
            sum_squares,
        }
    }

    /// Statistics of a binomial metric with `conversions` successes out of `n`.
    pub fn binomial(n: u64, conversions: f64) -> Self {
        ArmStats {
            n,
            sum: conversions,
            sum_squares: conversions,
        }
    }

    /// Sample mean `sum / n`, or 0 for an empty arm.
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }

    /// Per-unit variance, estimated as GrowthBook's gbstats does:
    ///
    /// * binomial: `p (1 - p)` with `p = sum / n` (no `n / (n - 1)` correction);
    /// * mean: `(sum_squares - sum^2 / n) / (n - 1)`, and 0 when `n <= 1`.
    pub fn variance(&self, kind: MetricKind) -> f64 {
        match kind {
            MetricKind::Binomial => {
                let p = self.mean();
                p * (1.0 - p)
            }
            MetricKind::Mean => {
                if self.n <= 1 {
                    0.0
                } else {
                    let n = self.n as f64;
                    (self.sum_squares - self.sum * self.sum / n) / (n - 1.0)
                }
            }
        }
    }

    /// Checks that the statistics are internally consistent for `kind`.
    /// `prefix` names the arm in error messages (e.g. `variations[1]`).
    pub fn validate(&self, kind: MetricKind, prefix: &str) -> Result<(), StatsError> {
        let field = |name: &str| format!("{prefix}.{name}");
        if !self.sum.is_finite() {
            return Err(StatsError::invalid(field("sum"), "must be a finite number"));
        }
        if !self.sum_squares.is_finite() {
            return Err(StatsError::invalid(
                field("sum_squares"),
                "must be a finite number",
            ));
        }
        let n = self.n as f64;
        match kind {
            MetricKind::Binomial => {
                if self.sum < 0.0 || self.sum > n {
                    return Err(StatsError::invalid(
                        field("sum"),
                        format!(
                            "counts conversions for a binomial metric, so it must be between 0 and n = {} (got {})",
                            self.n, self.sum
                        ),
                    ));
                }
                let tolerance = 1e-9 * self.sum.abs().max(1.0);
                if (self.sum_squares - self.sum).abs() > tolerance {
                    return Err(StatsError::invalid(
                        field("sum_squares"),
                        format!(
                            "must equal sum for a binomial metric because values are 0/1 (got {} with sum {}); omit it",
                            self.sum_squares, self.sum
                        ),
                    ));
                }
            }
            MetricKind::Mean => {
                if self.n == 0 {
                    if self.sum != 0.0 || self.sum_squares != 0.0 {
                        return Err(StatsError::invalid(
                            field("sum"),
                            "sum and sum_squares must be 0 when n is 0",
                        ));
                    }
                    return Ok(());
                }
                let floor = self.sum * self.sum / n;
                let tolerance = 1e-9 * self.sum_squares.abs().max(floor.abs()).max(1.0);
                if !floor.is_finite() || self.sum_squares < floor - tolerance {
                    return Err(StatsError::invalid(
                        field("sum_squares"),
                        format!(
                            "is inconsistent: it must be at least sum^2/n = {floor} (got {})",
                            self.sum_squares
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Point estimate and sampling variance of the treatment effect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct EffectMoments {
    /// Estimated effect on the requested scale.
    pub estimate: f64,
    /// Sampling variance of `estimate`.
    pub variance: f64,
    /// Per-unit variance of the control arm.
    pub var_c: f64,
    /// Per-unit variance of the treatment arm.
    pub var_t: f64,
}

/// Effect estimate and its delta-method variance (gbstats `EffectMoments`).
///
/// * absolute: `d = m_t - m_c`, `Var(d) = v_t/n_t + v_c/n_c`;
/// * relative: `d = (m_t - m_c)/|m_c|`,
///   `Var(d) = v_t/(n_t m_c^2) + v_c m_t^2/(n_c m_c^4)`.
///
/// Returns [`NotEnoughData`] for empty arms, arms with one unit, arms with
/// zero variance and (relative only) a zero control mean.
pub(crate) fn effect_moments(
    control: &ArmStats,
    treatment: &ArmStats,
    kind: MetricKind,
    difference: Difference,
) -> Result<EffectMoments, StatsError> {
    for (arm, stats) in [(Arm::Control, control), (Arm::Treatment, treatment)] {
        if stats.n == 0 {
            return Err(NotEnoughData::EmptyArm { arm }.into());
        }
        if stats.n < 2 {
            return Err(NotEnoughData::TooFewUnits { arm, n: stats.n }.into());
        }
        let variance = stats.variance(kind);
        if variance.is_nan() || variance <= 0.0 {
            return Err(NotEnoughData::ZeroVariance { arm }.into());
        }
    }
    let (m_c, m_t) = (control.mean(), treatment.mean());
    let (v_c, v_t) = (control.variance(kind), treatment.variance(kind));
    let (n_c, n_t) = (control.n as f64, treatment.n as f64);
    let (estimate, variance) = match difference {
        Difference::Absolute => (m_t - m_c, v_t / n_t + v_c / n_c),
        Difference::Relative => {
            if m_c == 0.0 {
                return Err(NotEnoughData::ZeroControlMean.into());
            }
            let m_c2 = m_c * m_c;
            (
                (m_t - m_c) / m_c.abs(),
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
    Ok(EffectMoments {
        estimate,
        variance,
        var_c: v_c,
        var_t: v_t,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn binomial_variance_has_no_bessel_correction() {
        let a = ArmStats::binomial(28, 14.0);
        assert!((a.variance(MetricKind::Binomial) - 0.25).abs() < 1e-15);
    }

    #[test]
    fn mean_variance_uses_n_minus_one() {
        // values 1, 2, 3 -> sample variance 1
        let a = ArmStats::new(3, 6.0, 14.0);
        assert!((a.variance(MetricKind::Mean) - 1.0).abs() < 1e-12);
        assert_eq!(ArmStats::new(1, 5.0, 25.0).variance(MetricKind::Mean), 0.0);
        assert_eq!(ArmStats::new(0, 0.0, 0.0).mean(), 0.0);
    }

    #[test]
    fn validation_names_fields() {
        let err = ArmStats::binomial(10, 11.0)
            .validate(MetricKind::Binomial, "variations[1]")
            .unwrap_err();
        assert!(
            matches!(&err, StatsError::InvalidInput { field, .. } if field == "variations[1].sum")
        );
        let err = ArmStats::new(4, 10.0, 20.0)
            .validate(MetricKind::Mean, "control")
            .unwrap_err();
        assert!(
            matches!(&err, StatsError::InvalidInput { field, .. } if field == "control.sum_squares")
        );
        let err = ArmStats::new(4, f64::NAN, 20.0)
            .validate(MetricKind::Mean, "control")
            .unwrap_err();
        assert!(matches!(&err, StatsError::InvalidInput { field, .. } if field == "control.sum"));
        let err = ArmStats::new(4, 2.0, 3.0)
            .validate(MetricKind::Binomial, "control")
            .unwrap_err();
        assert!(
            matches!(&err, StatsError::InvalidInput { field, .. } if field == "control.sum_squares")
        );
        assert!(
            ArmStats::new(3407, 1396.87, 52377.9767)
                .validate(MetricKind::Mean, "a")
                .is_ok()
        );
        // all values identical: sum_squares == sum^2/n exactly is allowed
        assert!(
            ArmStats::new(4, 8.0, 16.0)
                .validate(MetricKind::Mean, "a")
                .is_ok()
        );
    }

    #[test]
    fn degenerate_moments_are_typed() {
        let ok = ArmStats::binomial(100, 10.0);
        let cases = [
            (
                ArmStats::binomial(0, 0.0),
                NotEnoughData::EmptyArm { arm: Arm::Control },
            ),
            (
                ArmStats::new(1, 3.0, 9.0),
                NotEnoughData::TooFewUnits {
                    arm: Arm::Control,
                    n: 1,
                },
            ),
            (
                ArmStats::binomial(100, 0.0),
                NotEnoughData::ZeroVariance { arm: Arm::Control },
            ),
            (
                ArmStats::binomial(100, 100.0),
                NotEnoughData::ZeroVariance { arm: Arm::Control },
            ),
        ];
        for (control, expected) in cases {
            let err = effect_moments(&control, &ok, MetricKind::Binomial, Difference::Relative)
                .unwrap_err();
            assert_eq!(err, StatsError::NotEnoughData(expected));
        }
        let err = effect_moments(
            &ok,
            &ArmStats::binomial(0, 0.0),
            MetricKind::Binomial,
            Difference::Absolute,
        )
        .unwrap_err();
        assert_eq!(
            err,
            StatsError::NotEnoughData(NotEnoughData::EmptyArm {
                arm: Arm::Treatment
            })
        );
        // mean metric whose control mean is exactly 0 but with spread: values -1, 1
        let zero_mean = ArmStats::new(2, 0.0, 2.0);
        let t = ArmStats::new(3, 6.0, 14.0);
        let err =
            effect_moments(&zero_mean, &t, MetricKind::Mean, Difference::Relative).unwrap_err();
        assert_eq!(
            err,
            StatsError::NotEnoughData(NotEnoughData::ZeroControlMean)
        );
        assert!(effect_moments(&zero_mean, &t, MetricKind::Mean, Difference::Absolute).is_ok());
    }
}
