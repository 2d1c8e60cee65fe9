//! Printing results for people (aligned text) and machines (`--json`), and
//! turning errors into one clear line and an exit code.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

/// Print a value as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `--wide`: tables in full rather than fitted to [`TABLE_WIDTH`].
static WIDE: AtomicBool = AtomicBool::new(false);

/// How wide a table may be unless `--wide` is given.
pub const TABLE_WIDTH: usize = 80;

/// No column is cut narrower than this.
const MIN_COLUMN: usize = 8;

pub fn set_wide(wide: bool) {
    WIDE.store(wide, Ordering::Relaxed);
}

/// A plain text table with a header row, fitted to 80 columns (the widest
/// columns cut with "…") unless `--wide`. Cells are made safe for a
/// terminal first (see [`clean`]).
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let width = (!WIDE.load(Ordering::Relaxed)).then_some(TABLE_WIDTH);
    for line in table_lines(headers, rows, width) {
        println!("{line}");
    }
}

/// Cut the widest columns until the table fits `max` (never below
/// [`MIN_COLUMN`], so a table with many columns may stay wider).
fn fit(widths: &mut [usize], max: usize) {
    let gaps = 2 * widths.len().saturating_sub(1);
    let mut total: usize = widths.iter().sum::<usize>() + gaps;
    while total > max {
        let Some((i, w)) = widths.iter().copied().enumerate().max_by_key(|&(_, w)| w) else {
            return;
        };
        if w <= MIN_COLUMN {
            return;
        }
        // Cut the widest down to the next widest (or as far as needed).
        let next = widths
            .iter()
            .copied()
            .filter(|&x| x < w)
            .max()
            .unwrap_or(MIN_COLUMN)
            .max(MIN_COLUMN);
        let cut = (w - next).min(total - max).max(1);
        if let Some(slot) = widths.get_mut(i) {
            *slot = w - cut;
        }
        total -= cut;
    }
}

/// `s` cut to `width` characters, with "…" when something was cut.
fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The lines of [`table`], fitted to `max` columns when given. Padding is
/// done by hand: `format!`'s width is limited to 65,535 and panics beyond
/// it, and a stored title may be longer.
pub fn table_lines(headers: &[&str], rows: &[Vec<String>], max: Option<usize>) -> Vec<String> {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clean(c)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    if let Some(max) = max {
        fit(&mut widths, max);
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            let width = widths.get(i).copied().unwrap_or(0);
            let c = cut(c, width);
            out.push_str(&c);
            let pad = width.saturating_sub(c.chars().count());
            out.extend(std::iter::repeat_n(' ', pad));
        }
        out.trim_end().to_string()
    };
    let mut lines = vec![line(headers.to_vec())];
    for row in &rows {
        lines.push(line(row.iter().map(String::as_str).collect()));
    }
    lines
}

/// Text from users or the database made safe to print on a terminal:
/// control characters (escape sequences, BEL, NUL, carriage returns) are
/// shown as visible escapes (`\x1b`), so stored text can never drive the
/// terminal. Newlines and tabs are kept only when `multiline`.
pub fn clean_text(s: &str, multiline: bool) -> String {
    vivid_core::text::printable(s, multiline)
}

/// [`clean_text`] for one line (a title, a name, a table cell).
pub fn clean(s: &str) -> String {
    clean_text(s, false)
}

/// Exit code for bad input (the caller should change it, not retry).
pub const EXIT_USER: u8 = 2;
/// Exit code for everything else: the database, the environment, and
/// internal faults of vivid or of its stored data.
pub const EXIT_FAILURE: u8 = 1;

/// The exit code for a core error.
pub fn exit_code(e: &vivid_core::Error) -> u8 {
    if e.is_user_error() {
        EXIT_USER
    } else {
        EXIT_FAILURE
    }
}

/// One line on stderr; exit 2 for bad input, 1 for everything else. An
/// internal fault is also logged (with its kind) so it is not mistaken for a
/// mistake of the person who typed the command.
pub fn report_error(e: &anyhow::Error) -> ExitCode {
    if let Some(core) = e.downcast_ref::<vivid_core::Error>() {
        if matches!(core, vivid_core::Error::Internal(_)) {
            // Logged for the log file of long-running commands; the person
            // gets the one line below.
            tracing::debug!(kind = core.kind(), error = %core, "command failed on an internal fault");
            eprintln!(
                "error: {} (a fault of vivid or of its stored data, not of your input)",
                clean(&core.to_string())
            );
        } else {
            eprintln!("error: {}", clean(&core.to_string()));
        }
        return ExitCode::from(exit_code(core));
    }
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        msg.push_str(": ");
        msg.push_str(&cause.to_string());
    }
    // Messages may quote what was typed (a file name): never raw control
    // characters on the terminal.
    eprintln!("error: {}", clean(&msg));
    ExitCode::from(EXIT_FAILURE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_longer_than_format_widths_allow_is_printed_not_a_panic() {
        let title = "x".repeat(70_000);
        let lines = table_lines(&["#", "Title"], &[vec!["1".into(), title.clone()]], None);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1], format!("1  {title}"));
        assert_eq!(lines[0], "#  Title");
    }

    #[test]
    fn tables_fit_80_columns_by_cutting_the_widest_free_text() {
        let rows = vec![
            vec!["#1".into(), "P1".into(), "x".repeat(300), "@omar".into()],
            vec!["#2".into(), "P3".into(), "Short".into(), "@tess".into()],
        ];
        let lines = table_lines(&["#", "Sev", "Title", "Owner"], &rows, Some(80));
        for l in &lines {
            assert!(
                l.chars().count() <= 80,
                "{} columns: {l}",
                l.chars().count()
            );
        }
        assert!(lines[1].contains("x…  @omar"), "{}", lines[1]);
        assert!(lines[2].contains("Short"), "{}", lines[2]);
        let wide = table_lines(&["#", "Sev", "Title", "Owner"], &rows, None);
        assert!(wide[1].contains(&"x".repeat(300)));
        // A table that already fits is left alone.
        let small = table_lines(&["a", "b"], &[vec!["1".into(), "2".into()]], Some(80));
        assert_eq!(small, vec!["a  b", "1  2"]);
    }

    #[test]
    fn escape_sequences_and_bells_are_shown_not_obeyed() {
        assert_eq!(clean("\u{1b}[31mred\u{7}"), "\\x1b[31mred\\x07");
        assert_eq!(clean("a\nb\0c"), "a\\x0ab\\x00c");
        assert_eq!(clean_text("a\nb\tc\r", true), "a\nb\tc\\x0d");
        assert_eq!(clean("\u{9b}31m"), "\\x9b31m");
        assert_eq!(clean("café ✓"), "café ✓");
    }

    #[test]
    fn internal_faults_exit_like_other_failures_not_like_bad_input() {
        use vivid_core::Error;
        assert_eq!(exit_code(&Error::invalid("no such option")), EXIT_USER);
        assert_eq!(exit_code(&Error::not_found("no incident #9")), EXIT_USER);
        assert_eq!(
            exit_code(&Error::internal("incident #9 has an unknown phase")),
            EXIT_FAILURE
        );
        assert_eq!(
            exit_code(&Error::Unreachable("no server".into())),
            EXIT_FAILURE
        );
    }
}
