//! Multiple-testing corrections of p-values.

use super::error::StatsError;

fn check_p_values(p_values: &[f64]) -> Result<(), StatsError> {
    for (i, p) in p_values.iter().enumerate() {
        if !(p.is_finite() && (0.0..=1.0).contains(p)) {
            return Err(StatsError::invalid(
                format!("p_values[{i}]"),
                format!("must be between 0 and 1 (got {p})"),
            ));
        }
    }
    Ok(())
}

/// Indices of `p_values` sorted ascending by value (stable for ties).
fn order(p_values: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..p_values.len()).collect();
    idx.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    idx
}

/// Holm–Bonferroni step-down adjusted p-values (controls the family-wise error rate).
///
/// With the `m` p-values sorted ascending, `p_(i)` (1-based rank `i`) becomes
/// `min(1, max_{j <= i} (m - j + 1) p_(j))`. The result is in the input order.
pub fn holm_bonferroni(p_values: &[f64]) -> Result<Vec<f64>, StatsError> {
    check_p_values(p_values)?;
    let m = p_values.len();
    let mut adjusted = vec![0.0; m];
    let mut running_max: f64 = 0.0;
    for (rank, &i) in order(p_values).iter().enumerate() {
        let candidate = (p_values[i] * (m - rank) as f64).min(1.0);
        running_max = running_max.max(candidate);
        adjusted[i] = running_max;
    }
    Ok(adjusted)
}

/// Benjamini–Hochberg step-up adjusted p-values (controls the false discovery rate).
///
/// With the `m` p-values sorted ascending, `p_(i)` becomes
/// `min(1, min_{j >= i} m p_(j) / j)`. The result is in the input order.
pub fn benjamini_hochberg(p_values: &[f64]) -> Result<Vec<f64>, StatsError> {
    check_p_values(p_values)?;
    let m = p_values.len();
    let mut adjusted = vec![0.0; m];
    let mut running_min: f64 = 1.0;
    for (rank0, &i) in order(p_values).iter().enumerate().rev() {
        let candidate = p_values[i] * m as f64 / (rank0 + 1) as f64;
        running_min = running_min.min(candidate);
        adjusted[i] = running_min;
    }
    Ok(adjusted)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn assert_all_close(actual: &[f64], expected: &[f64]) {
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            assert!(
                (a - e).abs() < 1e-9,
                "expected {expected:?}, got {actual:?}"
            );
        }
    }

    #[test]
    fn growthbook_vectors() {
        let holm = holm_bonferroni(&[0.01, 0.04, 0.03, 0.005, 0.55, 0.6]).unwrap();
        assert_all_close(&holm, &[0.05, 0.12, 0.12, 0.03, 1.0, 1.0]);
        let bh = benjamini_hochberg(&[0.898, 0.138, 0.007, 0.964, 0.538, 0.006, 0.138]).unwrap();
        assert_all_close(&bh, &[0.964, 0.2415, 0.0245, 0.964, 0.7532, 0.0245, 0.2415]);
    }

    #[test]
    fn empty_and_single() {
        assert!(holm_bonferroni(&[]).unwrap().is_empty());
        assert!(benjamini_hochberg(&[]).unwrap().is_empty());
        assert_eq!(holm_bonferroni(&[0.3]).unwrap(), vec![0.3]);
        assert_eq!(benjamini_hochberg(&[0.3]).unwrap(), vec![0.3]);
    }

    #[test]
    fn rejects_invalid_p_values() {
        assert!(holm_bonferroni(&[0.1, 1.5]).is_err());
        assert!(benjamini_hochberg(&[f64::NAN]).is_err());
    }

    #[test]
    fn adjusted_p_values_are_monotone_and_bounded() {
        // deterministic pseudo-random inputs (linear congruential generator)
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for len in 1..30 {
            let p: Vec<f64> = (0..len).map(|_| next().powi(3)).collect();
            for adjusted in [
                holm_bonferroni(&p).unwrap(),
                benjamini_hochberg(&p).unwrap(),
            ] {
                for (i, (&a, &raw)) in adjusted.iter().zip(&p).enumerate() {
                    assert!((0.0..=1.0).contains(&a));
                    assert!(a >= raw - 1e-15, "adjusted below raw at {i}");
                }
                // same ordering as the raw p-values
                for i in 0..len {
                    for j in 0..len {
                        if p[i] < p[j] {
                            assert!(adjusted[i] <= adjusted[j]);
                        }
                    }
                }
            }
            // Holm is never less conservative than BH
            let h = holm_bonferroni(&p).unwrap();
            let b = benjamini_hochberg(&p).unwrap();
            assert!(h.iter().zip(&b).all(|(h, b)| h >= &(b - 1e-15)));
        }
    }
}
