//! Printing results for people (aligned text) and machines (`--json`), and
//! turning errors into one clear line and an exit code.

use std::process::ExitCode;

use serde::Serialize;

/// Print a value as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A plain text table with a header row. Cells are made safe for a
/// terminal first (see [`clean`]).
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    for line in table_lines(headers, rows) {
        println!("{line}");
    }
}

/// The lines of [`table`]. Padding is done by hand: `format!`'s width is
/// limited to 65,535 and panics beyond it, and a stored title may be longer.
pub fn table_lines(headers: &[&str], rows: &[Vec<String>]) -> Vec<String> {
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
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(c);
            let width = widths.get(i).copied().unwrap_or(0);
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
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\t' if multiline => out.push(c),
            c if c.is_control() => {
                let code = c as u32;
                if code <= 0xff {
                    out.push_str(&format!("\\x{code:02x}"));
                } else {
                    out.push_str(&format!("\\u{{{code:x}}}"));
                }
            }
            c => out.push(c),
        }
    }
    out
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
            eprintln!("error: {core} (a fault of vivid or of its stored data, not of your input)");
        } else {
            eprintln!("error: {core}");
        }
        return ExitCode::from(exit_code(core));
    }
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        msg.push_str(": ");
        msg.push_str(&cause.to_string());
    }
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_FAILURE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_longer_than_format_widths_allow_is_printed_not_a_panic() {
        let title = "x".repeat(70_000);
        let lines = table_lines(&["#", "Title"], &[vec!["1".into(), title.clone()]]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1], format!("1  {title}"));
        assert_eq!(lines[0], "#  Title");
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
