//! `view`: the whole screen as a pure function of [`AppState`] (no I/O).
//! Ratatui diffs frames, so redrawing everything each time writes only
//! what changed.

mod overlay;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::{AppState, DbHealth};
use crate::format;
use crate::screens;
use crate::theme;

pub use overlay::{detail_overflow, help_lines, help_overflow};

/// Draw the control room, every time in the organisation's zone.
pub fn view(state: &AppState, frame: &mut Frame) {
    format::in_zone(state.zone, || draw(state, frame));
}

fn draw(state: &AppState, frame: &mut Frame) {
    let [header, banner, body, footer] = chrome(state, frame.area());
    render_header(state, frame, header);
    if !banner.is_empty() {
        render_banner(state, frame, banner);
    }
    if state.loaded {
        let screen = state.screen();
        screen.render(state, state.list(), frame, body);
    } else {
        let text = match state.db {
            DbHealth::Up => "Reading the database…",
            DbHealth::Down { .. } => "No data yet: waiting for the database.",
        };
        frame.render_widget(
            Paragraph::new(Line::styled(text, theme::muted())).centered(),
            body.centered_vertically(Constraint::Length(1)),
        );
    }
    render_footer(state, frame, footer);
    overlay::render(state, frame, frame.area());
}

/// Where the current screen draws (between the tab bar and the status line).
pub fn body_area(state: &AppState, area: Rect) -> Rect {
    chrome(state, area)[2]
}

fn chrome(state: &AppState, area: Rect) -> [Rect; 4] {
    let banner = match state.db {
        DbHealth::Up => 0,
        DbHealth::Down { .. } => 2,
    };
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// How much of the tab bar fits: everything; without the organisation;
/// short titles for the other tabs; only their numbers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TabBar {
    Full,
    NoOrg,
    Short,
    Numbers,
}

/// A tab's count and how alarming it is.
type Badge = Option<(String, crate::snapshot::Level)>;

fn tab_spans(state: &AppState, org: &str, badges: &[Badge], bar: TabBar) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    if bar == TabBar::Full {
        spans.push(Span::styled(format!(" {org} "), theme::bold()));
        spans.push(Span::raw(" "));
    }
    for (i, screen) in screens::all().iter().enumerate() {
        let active = i == state.tab;
        let style = if active {
            theme::active_tab()
        } else {
            theme::border()
        };
        let text = match bar {
            _ if active => format!(" {} {}", i + 1, screen.title()),
            TabBar::Full | TabBar::NoOrg => format!(" {} {}", i + 1, screen.title()),
            TabBar::Short => format!(" {} {}", i + 1, screen.short_title()),
            TabBar::Numbers => format!(" {}", i + 1),
        };
        spans.push(Span::styled(text, style));
        match badges.get(i).cloned().flatten() {
            // Without a title, a dot keeps the count apart from the number.
            Some((text, level)) if bar == TabBar::Numbers && !active => {
                spans.push(Span::styled("·", style));
                spans.push(Span::styled(text, theme::level(level).patch(style)));
                spans.push(Span::styled(" ", style));
            }
            Some((text, level)) => {
                spans.push(Span::styled(" ", style));
                spans.push(Span::styled(text, theme::level(level).patch(style)));
                spans.push(Span::styled(" ", style));
            }
            None => spans.push(Span::styled(" ", style)),
        }
    }
    spans
}

fn render_header(state: &AppState, frame: &mut Frame, area: Rect) {
    let org = if state.snapshot.organisation.is_empty() {
        "VividWalls"
    } else {
        state.snapshot.organisation.as_str()
    };
    let long = format!(
        "@{}  {} {} ",
        state.operator,
        format::time_of_day(state.now),
        format::zone_abbreviation(state.now)
    );
    let short = format!("@{} {} ", state.operator, format::time_of_day(state.now));
    // Badges count whole lists: once per frame, whatever the bar's shape.
    let badges: Vec<Badge> = screens::all().iter().map(|s| s.badge(state)).collect();
    let fits = |spans: &[Span], right: &str| {
        Line::from(spans.to_vec()).width() + right.chars().count() <= usize::from(area.width)
    };
    let (spans, right) = [
        (TabBar::Full, &long),
        (TabBar::NoOrg, &long),
        (TabBar::Short, &long),
        (TabBar::Short, &short),
    ]
    .into_iter()
    .map(|(bar, right)| (tab_spans(state, org, &badges, bar), right))
    .find(|(spans, right)| fits(spans, right))
    .unwrap_or_else(|| (tab_spans(state, org, &badges, TabBar::Numbers), &short));
    let width = u16::try_from(right.chars().count()).unwrap_or(u16::MAX);
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(width)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(spans)), left_area);
    frame.render_widget(
        Paragraph::new(Line::styled(right.clone(), theme::muted())).right_aligned(),
        right_area,
    );
}

fn render_banner(state: &AppState, frame: &mut Frame, area: Rect) {
    let DbHealth::Down {
        error,
        since,
        retry_at,
    } = &state.db
    else {
        return;
    };
    let retry = (*retry_at - state.now).num_seconds();
    let retry = if retry > 0 {
        format!("retrying in {retry}s")
    } else {
        "retrying now".into()
    };
    let stale = match state.snapshot.taken_at {
        Some(t) if state.loaded => format!(" · showing data from {}", format::time_of_day(t)),
        _ => String::new(),
    };
    let lines = vec![
        Line::from(format!(
            " DATABASE UNREACHABLE since {} · {retry}{stale}",
            format::time_of_day(*since)
        )),
        Line::from(format!(" {error}")),
    ];
    frame.render_widget(Paragraph::new(lines).style(theme::banner()), area);
}

fn render_footer(state: &AppState, frame: &mut Frame, area: Rect) {
    if state.editing_filter {
        let filter = &state.list().filter;
        let line = Line::from(vec![
            Span::styled("/", theme::key()),
            Span::raw(filter.clone()),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        let x = area
            .x
            .saturating_add(1)
            .saturating_add(u16::try_from(filter.chars().count()).unwrap_or(u16::MAX));
        frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
        return;
    }
    let line = if let Some(busy) = &state.busy {
        Line::styled(format!(" {busy}"), theme::accent())
    } else if let Some(flash) = &state.flash {
        let style = if flash.error {
            theme::error()
        } else {
            theme::good()
        };
        Line::styled(format!(" {}", flash.text), style)
    } else {
        hints(state)
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// The keys worth remembering on this screen.
fn hints(state: &AppState) -> Line<'static> {
    let screen = state.screen();
    let mut keys: Vec<(&str, &str)> = vec![("?", "help")];
    if state.loaded {
        keys.push(("/", "filter"));
        if state
            .list()
            .current()
            .is_some_and(|r| screen.detail(state, r).is_some())
        {
            keys.push(("↵", "detail"));
        }
        // Keys without a word stay in the help overlay only.
        keys.extend(
            screen
                .keys()
                .iter()
                .filter(|k| !k.short.is_empty())
                .map(|k| (k.keys, k.short)),
        );
    }
    keys.push(("q", "quit"));
    let mut spans = vec![Span::raw(" ")];
    for (key, what) in keys {
        spans.push(Span::styled(key.to_string(), theme::key()));
        spans.push(Span::styled(format!(" {what}  "), theme::muted()));
    }
    Line::from(spans)
}
