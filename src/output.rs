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

/// One line on stderr; exit 2 for bad input, 1 for everything else.
pub fn report_error(e: &anyhow::Error) -> ExitCode {
    if let Some(core) = e.downcast_ref::<vivid_core::Error>() {
        eprintln!("error: {core}");
        return if core.is_user_error() {
            ExitCode::from(2)
        } else {
            ExitCode::from(1)
        };
    }
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        msg.push_str(": ");
        msg.push_str(&cause.to_string());
    }
    eprintln!("error: {msg}");
    ExitCode::from(1)
}
