//! Text typed by people, checked once for every workflow: a single-line
//! field (a title, a name, a reason) has no control characters and a
//! bounded length; a body (an e-mail, a post-mortem) has no NUL or
//! terminal control characters and a bounded size. The bounds are the
//! `[limits]` config section.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// `[limits]`: how much text one field may hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Titles, names and other one-line fields, in characters.
    pub title_chars: usize,
    /// Notes, comments and reasons, in characters.
    pub note_chars: usize,
    /// Bodies (content versions, post-mortems, files), in bytes.
    pub body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            title_chars: 200,
            note_chars: 4_000,
            body_bytes: 1_048_576,
        }
    }
}

impl Limits {
    /// A required one-line field, trimmed: a title or a name.
    pub fn title<'a>(&self, field: &str, value: &'a str) -> Result<&'a str> {
        let value = value.trim();
        if value.is_empty() {
            return Err(Error::invalid(format!("{field} cannot be empty")));
        }
        single_line(field, value, self.title_chars)
    }

    /// An optional one-line note (a reason, a comment); may be empty.
    pub fn note<'a>(&self, field: &str, value: &'a str) -> Result<&'a str> {
        single_line(field, value.trim(), self.note_chars)
    }

    /// A multi-line body: newlines and tabs are fine, NUL and terminal
    /// control characters are not.
    pub fn body<'a>(&self, field: &str, value: &'a str) -> Result<&'a str> {
        if value.len() > self.body_bytes {
            return Err(Error::invalid(format!(
                "{field} is {} bytes; at most {} are accepted ([limits] body_bytes)",
                value.len(),
                self.body_bytes
            )));
        }
        if let Some((n, c)) = value
            .chars()
            .enumerate()
            .find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
        {
            return Err(Error::invalid(format!(
                "{field} contains the control character U+{:04X} at character {}; \
                 only text, newlines and tabs are accepted",
                c as u32,
                n + 1
            )));
        }
        Ok(value)
    }
}

fn single_line<'a>(field: &str, value: &'a str, max: usize) -> Result<&'a str> {
    if let Some((n, c)) = value.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Err(Error::invalid(format!(
            "{field} contains the control character U+{:04X} at character {}; \
             it must be one line of text",
            c as u32,
            n + 1
        )));
    }
    let chars = value.chars().count();
    if chars > max {
        return Err(Error::invalid(format!(
            "{field} is {chars} characters long; at most {max} are accepted"
        )));
    }
    Ok(value)
}

/// Stored text made safe for a terminal or a chat: control characters
/// (escape sequences, BEL, NUL, carriage returns) become visible escapes
/// (`\x1b`), so stored text can never drive the terminal. Newlines and tabs
/// are kept only when `multiline`. Every human output goes through this.
pub fn printable(s: &str, multiline: bool) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_one_bounded_line() {
        let l = Limits::default();
        assert_eq!(
            l.title("title", "  Checkout down ").ok(),
            Some("Checkout down")
        );
        assert!(l.title("title", "   ").is_err());
        let long = "é".repeat(201);
        let e = l
            .title("title", &long)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("201 characters long; at most 200"), "{e}");
        assert!(l.title("title", &"é".repeat(200)).is_ok());
        for bad in ["a\u{1b}[31mred", "bell\u{7}", "nul\0", "two\nlines", "c\rr"] {
            assert!(l.title("title", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn bodies_keep_lines_and_refuse_nul_and_escapes() {
        let l = Limits::default();
        assert!(l.body("body", "Dear customer,\n\tthanks.\r\n").is_ok());
        let e = l
            .body("body", "ab\0c")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("U+0000 at character 3"), "{e}");
        assert!(l.body("body", "\u{1b}]0;pwned\u{7}").is_err());
        let big = "x".repeat(1_048_577);
        let e = l
            .body("body", &big)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("at most 1048576"), "{e}");
    }

    #[test]
    fn notes_may_be_empty_but_not_endless() {
        let l = Limits::default();
        assert_eq!(l.note("reason", "").ok(), Some(""));
        assert!(l.note("reason", &"x".repeat(4_001)).is_err());
    }
}
