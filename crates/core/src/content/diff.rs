//! Readable line diffs between content versions.

use similar::{ChangeTag, TextDiff};

/// A unified diff with three lines of context.
pub fn unified(old_name: &str, old: &str, new_name: &str, new: &str) -> String {
    let diff = TextDiff::from_lines(old, new);
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    for group in diff.grouped_ops(3) {
        // The hunk header as `diff -u` writes it: where the hunk starts and
        // how many lines it spans on each side (1-based; 0 when empty).
        let (mut old_start, mut old_len, mut new_start, mut new_len) = (0, 0, 0, 0);
        if let (Some(first), Some(last)) = (group.first(), group.last()) {
            let (o, n) = (first.old_range(), first.new_range());
            old_start = o.start;
            new_start = n.start;
            old_len = last.old_range().end - o.start;
            new_len = last.new_range().end - n.start;
        }
        let from = |start: usize, len: usize| if len == 0 { start } else { start + 1 };
        out.push_str(&format!(
            "@@ -{},{old_len} +{},{new_len} @@\n",
            from(old_start, old_len),
            from(new_start, new_len)
        ));
        for op in group {
            for change in diff.iter_changes(&op) {
                let sign = match change.tag() {
                    ChangeTag::Delete => '-',
                    ChangeTag::Insert => '+',
                    ChangeTag::Equal => ' ',
                };
                out.push(sign);
                out.push_str(change.value());
                if change.missing_newline() {
                    out.push('\n');
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_what_changed() {
        let d = unified(
            "v1",
            "Hello\nSpring sale\nBye\n",
            "v2",
            "Hello\nSummer sale\nBye\n",
        );
        assert_eq!(
            d,
            "--- v1\n+++ v2\n@@ -1,3 +1,3 @@\n Hello\n-Spring sale\n+Summer sale\n Bye\n"
        );
    }
}

#[cfg(test)]
mod hunk_tests {
    use super::*;

    #[test]
    fn hunks_say_where_they_are_and_nothing_trails() {
        let old: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        let new = old.replace("line 15\n", "line fifteen\n");
        let d = unified("v1", &old, "v2", &new);
        assert!(d.contains("@@ -12,7 +12,7 @@\n line 12\n"), "{d}");
        assert!(d.ends_with(" line 18\n"), "{d}");
        let added = unified("v1", "", "v2", "a\nb\n");
        assert_eq!(added, "--- v1\n+++ v2\n@@ -0,0 +1,2 @@\n+a\n+b\n");
        assert_eq!(unified("v1", "same\n", "v2", "same\n"), "--- v1\n+++ v2\n");
    }
}
