//! Colours and emphasis. Text keeps the terminal's own foreground and
//! background (readable on dark and light themes); colour marks meaning
//! only: red for alerts and overdue, yellow for warnings, green for good.

use ratatui::style::{Color, Modifier, Style};

use crate::snapshot::Level;

pub fn level(level: Level) -> Style {
    match level {
        Level::Normal => Style::default(),
        Level::Good => Style::default().fg(Color::Green),
        Level::Warn => Style::default().fg(Color::Yellow),
        Level::Alert => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
    }
}

/// An incident's severity: P1 red, P2 yellow, P3 plain, P4 dim.
pub fn severity(severity: Option<vivid_core::crisis::Severity>) -> Style {
    use vivid_core::crisis::Severity;
    match severity {
        Some(Severity::P1) => level(Level::Alert),
        Some(Severity::P2) => level(Level::Warn),
        Some(Severity::P3) | None => Style::default(),
        Some(Severity::P4) => muted(),
    }
}

/// What shows no conclusion (an interval that crosses zero).
pub fn inconclusive() -> Style {
    Style::default().fg(Color::DarkGray)
}

/// The border of a box whose worst figure is `level`.
pub fn border_for(level: Level) -> Style {
    match level {
        Level::Normal | Level::Good => border(),
        other => self::level(other),
    }
}

pub fn border() -> Style {
    Style::default()
}

pub fn muted() -> Style {
    Style::default().add_modifier(Modifier::DIM)
}

pub fn bold() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}

pub fn header() -> Style {
    Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
}

/// The cursor row: reversed video works on every theme.
pub fn selected() -> Style {
    Style::default().add_modifier(Modifier::REVERSED)
}

/// Keys in hints and help.
pub fn key() -> Style {
    Style::default()
        .fg(Color::Cyan)
        .add_modifier(Modifier::BOLD)
}

pub fn accent() -> Style {
    Style::default().fg(Color::Cyan)
}

pub fn active_tab() -> Style {
    Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
}

/// The database-down banner.
pub fn banner() -> Style {
    Style::default()
        .bg(Color::Red)
        .fg(Color::White)
        .add_modifier(Modifier::BOLD)
}

pub fn error() -> Style {
    level(Level::Alert)
}

pub fn good() -> Style {
    level(Level::Good)
}
