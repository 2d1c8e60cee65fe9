//! Keeping a read model current without re-reading it whole: after a change
//! names some entities, read only those and merge them into the rows a
//! front end already holds. Shared by every workflow's `read.rs`.

use std::collections::HashSet;
use std::hash::Hash;

/// Replace the rows whose id is in `changed` by `fresh` (the changed ones
/// that still belong to the view; a changed id missing from `fresh` left
/// it), then restore the view's order with `order`.
pub fn merge_by_id<T, K, O>(
    rows: &mut Vec<T>,
    changed: &[K],
    fresh: Vec<T>,
    id: impl Fn(&T) -> K,
    order: impl FnMut(&T) -> O,
) where
    K: Eq + Hash + Clone,
    O: Ord,
{
    let changed: HashSet<K> = changed.iter().cloned().collect();
    rows.retain(|r| !changed.contains(&id(r)));
    rows.extend(fresh);
    rows.sort_by_key(order);
}

/// The numeric entity ids among `ids` (events name entities as text).
pub fn numeric_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<i64> {
    let mut out: Vec<i64> = ids.into_iter().filter_map(|s| s.parse().ok()).collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_rows_are_replaced_removed_or_added_and_order_is_kept() {
        let mut rows = vec![(1, "a"), (2, "b"), (3, "c")];
        // 2 changed and is still there, 3 changed and left, 4 is new.
        merge_by_id(
            &mut rows,
            &[2, 3, 4],
            vec![(2, "B"), (4, "d")],
            |r| r.0,
            |r| r.0,
        );
        assert_eq!(rows, vec![(1, "a"), (2, "B"), (4, "d")]);
    }

    #[test]
    fn only_numbers_are_ids() {
        assert_eq!(numeric_ids(["3", "x", "1", "3", "breach:2"]), vec![1, 3]);
    }
}
