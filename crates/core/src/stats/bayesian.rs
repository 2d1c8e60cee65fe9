//! Bayesian comparison with a normal approximation to the effect's likelihood.

use super::arm::{ArmStats, Difference, EffectMoments, MetricKind, effect_moments};
use super::dist::{normal_cdf, normal_pdf, normal_quantile, normal_sf};
use super::error::{NotEnoughData, StatsError, check_alpha, ensure_finite};
use serde::{Deserialize, Serialize};

/// Normal prior on the **relative** effect (lift), as GrowthBook specifies priors.
///
/// When the analysis uses an absolute difference the prior is rescaled to the
/// control arm's units: mean `* |m_c|`, variance `* m_c^2`. Supplying a prior
/// makes it proper; without one the prior is flat (improper) and the posterior
/// equals the normal likelihood of the data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaussianPrior {
    /// Prior mean of the lift (default 0).
    #[serde(default)]
    pub mean: f64,
    /// Prior variance of the lift (must be positive).
    pub variance: f64,
}

impl GaussianPrior {
    /// Checks that the prior is usable; `prefix` names it in error messages.
    pub fn validate(&self, prefix: &str) -> Result<(), StatsError> {
        if !self.mean.is_finite() {
            return Err(StatsError::invalid(
                format!("{prefix}.mean"),
                "must be a finite number",
            ));
        }
        if !(self.variance.is_finite() && self.variance > 0.0) {
            return Err(StatsError::invalid(
                format!("{prefix}.variance"),
                format!("must be a positive finite number (got {})", self.variance),
            ));
        }
        Ok(())
    }
}

/// Posterior summary of the effect of treatment vs control.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BayesianResult {
    /// Posterior mean of the effect (relative lift or absolute difference).
    pub mean: f64,
    /// Posterior standard deviation of the effect.
    pub std_dev: f64,
    /// Equal-tailed `1 - alpha` credible interval.
    pub ci: [f64; 2],
    /// Posterior probability that the effect is positive.
    pub chance_to_win: f64,
    /// `[risk_control, risk_treatment]`: expected loss of shipping control
    /// (`E[max(effect, 0)]`) and of shipping treatment (`E[max(-effect, 0)]`),
    /// on the same scale as `mean`.
    pub risk: [f64; 2],
}

/// Expected losses `[E[max(X,0)], E[max(-X,0)]]` for `X ~ N(mu, sigma^2)`.
///
/// gbstats computes `P(X>0) E[X | X>0]` and `-P(X<0) E[X | X<0]` from
/// truncated-normal means; in closed form these are
/// `mu Phi(mu/sigma) + sigma phi(mu/sigma)` and `sigma phi(mu/sigma) - mu Phi(-mu/sigma)`.
pub fn expected_loss(mu: f64, sigma: f64) -> [f64; 2] {
    if !(sigma.is_finite() && sigma > 0.0) {
        return [mu.max(0.0), (-mu).max(0.0)];
    }
    let z = mu / sigma;
    let density = sigma * normal_pdf(z);
    let lose_by_control = mu * normal_cdf(z) + density;
    let lose_by_treatment = density - mu * normal_sf(z);
    [
        non_negative(lose_by_control),
        non_negative(lose_by_treatment),
    ]
}

fn non_negative(x: f64) -> f64 {
    if x > 0.0 { x } else { 0.0 }
}

/// Bayesian effect test (GrowthBook `EffectBayesianABTest`).
///
/// The data give a normal likelihood `N(d, s^2)` for the effect, with `d`
/// and `s^2` computed exactly as in [`crate::stats::welch`]. With a flat prior
/// the posterior is that normal; with a proper prior `N(mu0, tau^2)` (see
/// [`GaussianPrior`] for its scale) the posterior precision is
/// `1/s^2 + 1/tau^2` and the posterior mean `(d/s^2 + mu0/tau^2) / precision`.
///
/// Reports the credible interval from the normal `alpha/2` and `1 - alpha/2`
/// quantiles, the chance to win `P(effect > 0)` and the risk pair from
/// [`expected_loss`].
pub fn bayesian(
    control: &ArmStats,
    treatment: &ArmStats,
    kind: MetricKind,
    difference: Difference,
    alpha: f64,
    prior: Option<&GaussianPrior>,
) -> Result<BayesianResult, StatsError> {
    check_alpha(alpha)?;
    control.validate(kind, "control")?;
    treatment.validate(kind, "treatment")?;
    if let Some(p) = prior {
        p.validate("prior")?;
    }
    let m = effect_moments(control, treatment, kind, difference)?;
    bayesian_moments(&m, control.mean(), difference, alpha, prior)
}

/// The posterior from effect moments already computed (plain or CUPED);
/// `control_mean` is the unadjusted control mean (it rescales the prior).
pub(crate) fn bayesian_moments(
    m: &EffectMoments,
    control_mean: f64,
    difference: Difference,
    alpha: f64,
    prior: Option<&GaussianPrior>,
) -> Result<BayesianResult, StatsError> {
    let (mean, variance) = match prior {
        None => (m.estimate, m.variance),
        Some(p) => {
            let (prior_mean, prior_var) = match difference {
                Difference::Relative => (p.mean, p.variance),
                Difference::Absolute => {
                    let m_c = control_mean;
                    if m_c == 0.0 {
                        return Err(NotEnoughData::ZeroControlMean.into());
                    }
                    (p.mean * m_c.abs(), p.variance * m_c * m_c)
                }
            };
            let precision = 1.0 / m.variance + 1.0 / prior_var;
            (
                (m.estimate / m.variance + prior_mean / prior_var) / precision,
                1.0 / precision,
            )
        }
    };
    let std_dev = variance.sqrt();
    ensure_finite("posterior", &[mean, std_dev])?;
    if std_dev <= 0.0 {
        return Err(NotEnoughData::DegenerateVariance.into());
    }
    let z = normal_quantile(1.0 - alpha / 2.0);
    let ci = [mean - z * std_dev, mean + z * std_dev];
    let chance_to_win = normal_cdf(mean / std_dev);
    let risk = expected_loss(mean, std_dev);
    ensure_finite("credible interval", &ci)?;
    ensure_finite("risk", &risk)?;
    ensure_finite("chance to win", &[chance_to_win])?;
    Ok(BayesianResult {
        mean,
        std_dev,
        ci,
        chance_to_win,
        risk,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, tol: f64) {
        assert!(
            (actual - expected).abs() < tol,
            "expected {expected}, got {actual} (diff {})",
            (actual - expected).abs()
        );
    }

    const TOL: f64 = 6e-6;

    #[test]
    fn gbstats_binomial_relative() {
        let r = bayesian(
            &ArmStats::binomial(100, 49.0),
            &ArmStats::binomial(100, 51.0),
            MetricKind::Binomial,
            Difference::Relative,
            0.05,
            None,
        )
        .unwrap();
        close(r.mean, 0.04082, TOL);
        close(r.std_dev, 0.14725, TOL);
        close(r.ci[0], -0.24779, TOL);
        close(r.ci[1], 0.32943, TOL);
        close(r.chance_to_win, 0.60918, TOL);
        close(r.risk[0], 0.08140, TOL);
        close(r.risk[1], 0.04058, TOL);
    }

    #[test]
    fn gbstats_gaussian_flat_and_informative() {
        let a = ArmStats::new(10, 100.0, 1002.25);
        let b = ArmStats::new(10, 105.0, 1111.5);
        let flat = bayesian(&a, &b, MetricKind::Mean, Difference::Relative, 0.05, None).unwrap();
        close(flat.mean, 0.05, TOL);
        close(flat.std_dev, 0.03572, TOL);
        close(flat.ci[0], -0.02, TOL);
        close(flat.ci[1], 0.12, TOL);
        close(flat.chance_to_win, 0.91923, TOL);
        close(flat.risk[0], 0.05131, TOL);
        close(flat.risk[1], 0.00131, TOL);

        let prior = GaussianPrior {
            mean: 0.1,
            variance: 0.1,
        };
        let inf = bayesian(
            &a,
            &b,
            MetricKind::Mean,
            Difference::Relative,
            0.05,
            Some(&prior),
        )
        .unwrap();
        close(inf.mean, 0.05063, TOL);
        close(inf.std_dev, 0.03549, TOL);
        close(inf.ci[0], -0.01893, TOL);
        close(inf.ci[1], 0.12019, TOL);
        close(inf.chance_to_win, 0.92315, TOL);
        close(inf.risk[0], 0.05186, TOL);
        close(inf.risk[1], 0.00123, TOL);
    }

    #[test]
    fn gbstats_risk_helper() {
        // gbstats test: get_risk(mu, sigma) for extreme ratios and a moderate case
        assert_eq!(expected_loss(0.01, 4.5e-9), [0.01, 0.0]);
        assert_eq!(expected_loss(-0.01, 4.5e-9), [0.0, 0.01]);
        let r = expected_loss(0.1, 0.03);
        close(r[0] - r[1], 0.1, 1e-12);
    }

    #[test]
    fn risk_difference_equals_mean() {
        for mu in [-2.0, -0.3, 0.0, 0.01, 0.5, 3.0] {
            for sigma in [0.01, 0.2, 1.0, 5.0] {
                let r = expected_loss(mu, sigma);
                close(r[0] - r[1], mu, 1e-12);
                assert!(r[0] >= 0.0 && r[1] >= 0.0);
            }
        }
    }

    #[test]
    fn absolute_prior_is_scaled_by_control_mean() {
        let a = ArmStats::new(10, 100.0, 1002.25);
        let b = ArmStats::new(10, 105.0, 1111.5);
        let prior = GaussianPrior {
            mean: 0.1,
            variance: 0.1,
        };
        let rel = bayesian(
            &a,
            &b,
            MetricKind::Mean,
            Difference::Relative,
            0.05,
            Some(&prior),
        )
        .unwrap();
        let abs = bayesian(
            &a,
            &b,
            MetricKind::Mean,
            Difference::Absolute,
            0.05,
            Some(&prior),
        )
        .unwrap();
        // control mean is 10, and the relative variance here has a v_c m_t^2 term,
        // so the two are close but not identical; the prior pulls both toward +10%.
        let flat_abs =
            bayesian(&a, &b, MetricKind::Mean, Difference::Absolute, 0.05, None).unwrap();
        assert!(abs.mean > flat_abs.mean);
        assert!(abs.std_dev < flat_abs.std_dev);
        close(abs.mean / 10.0, rel.mean, 1e-3);
    }

    #[test]
    fn missing_data_is_not_enough_data() {
        for kind in [MetricKind::Binomial, MetricKind::Mean] {
            let empty = ArmStats::new(0, 0.0, 0.0);
            let err = bayesian(&empty, &empty, kind, Difference::Relative, 0.05, None).unwrap_err();
            assert!(matches!(err, StatsError::NotEnoughData(_)));
        }
    }

    #[test]
    fn chance_to_win_flips_when_arms_swap() {
        let a = ArmStats::binomial(1000, 100.0);
        let b = ArmStats::binomial(1000, 120.0);
        let f = bayesian(
            &a,
            &b,
            MetricKind::Binomial,
            Difference::Absolute,
            0.05,
            None,
        )
        .unwrap();
        let r = bayesian(
            &b,
            &a,
            MetricKind::Binomial,
            Difference::Absolute,
            0.05,
            None,
        )
        .unwrap();
        close(f.chance_to_win + r.chance_to_win, 1.0, 1e-12);
        close(f.mean, -r.mean, 1e-12);
        close(f.risk[0], r.risk[1], 1e-12);
        close(f.risk[1], r.risk[0], 1e-12);
    }

    #[test]
    fn rejects_bad_prior() {
        let a = ArmStats::binomial(1000, 100.0);
        let prior = GaussianPrior {
            mean: 0.0,
            variance: 0.0,
        };
        let err = bayesian(
            &a,
            &a,
            MetricKind::Binomial,
            Difference::Relative,
            0.05,
            Some(&prior),
        )
        .unwrap_err();
        assert!(
            matches!(err, StatsError::InvalidInput { ref field, .. } if field == "prior.variance")
        );
    }
}
