//! Sample-ratio-mismatch check.

use super::dist::chi_square_sf;
use super::error::StatsError;

/// SRM is flagged when the chi-square p-value is below this threshold.
pub const SRM_THRESHOLD: f64 = 0.001;

/// Chi-square goodness-of-fit p-value of observed unit counts against the
/// planned traffic weights.
///
/// Arms whose weight is 0 are skipped (they were not meant to receive
/// traffic); the remaining weights are normalised to sum to 1 and compared
/// with the remaining counts: `X^2 = sum (o_i - e_i)^2 / e_i`,
/// `e_i = w_i / sum(w) * sum(o)`, with `k - 1` degrees of freedom for `k`
/// remaining arms. Returns 1 when fewer than two arms remain or no units were
/// observed.
///
/// Errors when the slices differ in length or a weight is negative or not finite.
pub fn srm_p_value(counts: &[u64], weights: &[f64]) -> Result<f64, StatsError> {
    if counts.len() != weights.len() {
        return Err(StatsError::invalid(
            "weights",
            format!(
                "has {} entries but there are {} variations",
                weights.len(),
                counts.len()
            ),
        ));
    }
    for (i, w) in weights.iter().enumerate() {
        if !(w.is_finite() && *w >= 0.0) {
            return Err(StatsError::invalid(
                format!("weights[{i}]"),
                format!("must be a non-negative finite number (got {w})"),
            ));
        }
    }
    let kept: Vec<(f64, f64)> = counts
        .iter()
        .zip(weights)
        .filter(|(_, w)| **w > 0.0)
        .map(|(c, w)| (*c as f64, *w))
        .collect();
    let total_weight: f64 = kept.iter().map(|(_, w)| w).sum();
    let total_observed: f64 = kept.iter().map(|(c, _)| c).sum();
    if kept.len() < 2 || total_observed <= 0.0 || total_weight <= 0.0 {
        return Ok(1.0);
    }
    let statistic: f64 = kept
        .iter()
        .map(|(observed, w)| {
            let expected = w / total_weight * total_observed;
            (observed - expected).powi(2) / expected
        })
        .sum();
    let p = chi_square_sf(statistic, (kept.len() - 1) as f64);
    Ok(if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, tol: f64) {
        assert!(
            (actual - expected).abs() < tol,
            "expected {expected}, got {actual}"
        );
    }

    #[test]
    fn gbstats_vectors() {
        close(
            srm_p_value(&[1000, 1200], &[0.5, 0.5]).unwrap(),
            0.000020079,
            1e-9,
        );
        close(
            srm_p_value(&[135, 115], &[0.5, 0.5]).unwrap(),
            0.205903211,
            1e-9,
        );
        close(
            srm_p_value(&[310, 98], &[0.75, 0.25]).unwrap(),
            0.647434186,
            1e-9,
        );
        close(
            srm_p_value(&[500, 500, 600], &[0.34, 0.33, 0.33]).unwrap(),
            0.000592638,
            1e-9,
        );
    }

    #[test]
    fn zero_weight_arms_are_skipped() {
        let with_skipped = srm_p_value(&[135, 40, 115], &[0.5, 0.0, 0.5]).unwrap();
        close(
            with_skipped,
            srm_p_value(&[135, 115], &[0.5, 0.5]).unwrap(),
            1e-12,
        );
        assert_eq!(srm_p_value(&[100, 200], &[1.0, 0.0]).unwrap(), 1.0);
        assert_eq!(srm_p_value(&[0, 0], &[0.5, 0.5]).unwrap(), 1.0);
        // unnormalised weights behave like normalised ones
        close(
            srm_p_value(&[310, 98], &[3.0, 1.0]).unwrap(),
            srm_p_value(&[310, 98], &[0.75, 0.25]).unwrap(),
            1e-12,
        );
    }

    #[test]
    fn rejects_bad_weights() {
        assert!(srm_p_value(&[1, 2], &[0.5]).is_err());
        assert!(srm_p_value(&[1, 2], &[0.5, -0.5]).is_err());
        assert!(srm_p_value(&[1, 2], &[0.5, f64::NAN]).is_err());
    }

    #[test]
    fn huge_mismatch_is_zero_not_nan() {
        let p = srm_p_value(&[u64::from(u32::MAX), 1], &[0.5, 0.5]).unwrap();
        assert!((0.0..SRM_THRESHOLD).contains(&p));
    }
}
