//! Readable line diffs between content versions.

use similar::{ChangeTag, TextDiff};

/// A unified diff with three lines of context.
pub fn unified(old_name: &str, old: &str, new_name: &str, new: &str) -> String {
    let diff = TextDiff::from_lines(old, new);
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    for group in diff.grouped_ops(3) {
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
        out.push_str("@@\n");
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
        assert!(d.contains("-Spring sale\n+Summer sale\n"), "{d}");
        assert!(d.starts_with("--- v1\n+++ v2\n"));
    }
}
