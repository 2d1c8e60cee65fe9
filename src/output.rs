//! Printing results for people (aligned text) and machines (`--json`), and
//! turning errors into one clear line and an exit code.

use std::process::ExitCode;

use serde::Serialize;

/// Print a value as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A plain text table with a header row.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths.get(i).copied().unwrap_or(0)))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
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
            tracing::error!(kind = core.kind(), error = %core, "command failed on an internal fault");
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
