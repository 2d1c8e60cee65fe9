//! Deterministic assignment: the same (experiment, unit) always lands in the
//! same variation, in any process, on any machine, after any restart.

/// FNV-1a, 64 bit: simple, stable, and well spread for short keys.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A point in [0, 1) for a unit of an experiment.
pub fn bucket(experiment_key: &str, unit_id: &str) -> f64 {
    let h = fnv1a64(format!("{experiment_key}:{unit_id}").as_bytes());
    // Mix once more so nearby ids spread over the whole range.
    let h = fnv1a64(&h.to_le_bytes());
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The index of the variation a unit gets, by weights (need not sum to 1;
/// zero-weight variations never receive units). None when all weights are 0.
pub fn choose(experiment_key: &str, unit_id: &str, weights: &[f64]) -> Option<usize> {
    let total: f64 = weights.iter().filter(|w| w.is_finite() && **w > 0.0).sum();
    if total <= 0.0 {
        return None;
    }
    let point = bucket(experiment_key, unit_id) * total;
    let mut acc = 0.0;
    let mut last = None;
    for (i, w) in weights.iter().enumerate() {
        if !(w.is_finite() && *w > 0.0) {
            continue;
        }
        acc += w;
        last = Some(i);
        if point < acc {
            return Some(i);
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_is_stable_and_follows_the_weights() {
        let w = [0.5, 0.5];
        assert_eq!(
            choose("exp-1", "user-42", &w),
            choose("exp-1", "user-42", &w)
        );
        // Known values: a change here would reshuffle every running experiment.
        assert_eq!(fnv1a64(b"vividwalls"), 0x1042_85f1_f0f5_23a8);
        let mut counts = [0u32; 3];
        for i in 0..30_000 {
            if let Some(v) = choose("exp-2", &format!("u{i}"), &[0.2, 0.3, 0.5]) {
                counts[v] += 1;
            }
        }
        let shares: Vec<f64> = counts.iter().map(|c| f64::from(*c) / 30_000.0).collect();
        for (share, want) in shares.iter().zip([0.2, 0.3, 0.5]) {
            assert!((share - want).abs() < 0.015, "{shares:?}");
        }
        assert_eq!(choose("x", "u", &[0.0, 1.0]), Some(1));
        assert_eq!(choose("x", "u", &[0.0, 0.0]), None);
        // Different experiments split independently.
        let same = (0..1000)
            .filter(|i| choose("a", &format!("u{i}"), &w) == choose("b", &format!("u{i}"), &w))
            .count();
        assert!((400..600).contains(&same), "{same}");
    }
}
