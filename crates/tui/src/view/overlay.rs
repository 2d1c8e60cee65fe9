//! Boxes drawn over the screen: help, detail, prompt, confirmation, error.

use std::ops::RangeInclusive;

use ratatui::Frame;
use ratatui::layout::{Constraint, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::app::{AppState, Overlay};
use crate::screens;
use crate::theme;

/// The keys every screen shares: (keys, what they do).
const COMMON_KEYS: &[(&str, &str)] = &[
    ("1-9 0 F1-F12 Tab", "switch screen"),
    ("j k ↓ ↑", "move"),
    ("g G Home End", "first / last"),
    ("PgDn PgUp ^d ^u", "page down / up"),
    ("Enter", "details"),
    ("Esc", "back; clear the filter"),
    ("/", "filter the list (Enter keeps it)"),
    ("r", "reload now"),
    ("?", "this help"),
    ("q Ctrl-C", "quit"),
];

const KEYS_W: usize = 17;
const PROMPT_W: u16 = 72;

/// Every key, grouped: the shared ones, then each screen's own.
pub fn help_lines() -> Vec<Line<'static>> {
    let row = |keys: &str, what: &str| {
        Line::from(vec![
            Span::styled(format!("  {keys:<KEYS_W$}"), theme::key()),
            Span::raw(what.to_string()),
        ])
    };
    let mut lines = vec![Line::styled("Everywhere", theme::bold())];
    lines.extend(COMMON_KEYS.iter().map(|(k, w)| row(k, w)));
    for screen in screens::all() {
        if screen.keys().is_empty() {
            continue;
        }
        lines.push(Line::styled(screen.title(), theme::bold()));
        lines.extend(screen.keys().iter().map(|k| row(k.keys, k.what)));
    }
    lines.push(Line::styled(
        "In dialogs: y or Enter confirms, n or Esc cancels",
        theme::muted(),
    ));
    lines
}

fn help_box() -> Boxed<'static> {
    Boxed::new(" Keys ", help_lines(), 0..=64, theme::border())
}

/// How far the help can scroll in `area` (what does not fit).
pub fn help_overflow(area: Rect) -> u16 {
    help_box().overflow(area)
}

pub fn render(state: &AppState, frame: &mut Frame, area: Rect) {
    let Some(overlay) = &state.overlay else {
        return;
    };
    match overlay {
        Overlay::Help { scroll } => {
            help_box().scroll(*scroll).render(frame, area);
        }
        Overlay::Detail { screen, id } => match detail_box(state, *screen, *id) {
            Some(boxed) => {
                boxed.scroll(state.detail_scroll).render(frame, area);
            }
            None => {
                Boxed::new(
                    " Gone ",
                    vec![
                        Line::from(format!(
                            "#{id} is no longer in this list (decided or removed)."
                        )),
                        Line::default(),
                        Line::styled("Esc back", theme::muted()),
                    ],
                    0..=60,
                    theme::border(),
                )
                .render(frame, area);
            }
        },
        Overlay::Prompt {
            title,
            label,
            input,
            hint,
            ..
        } => {
            // A fixed width, and the end of a long comment scrolled into it.
            let width = PROMPT_W.min(area.width);
            let room = usize::from(width.saturating_sub(7));
            let shown: String = {
                let skip = input.chars().count().saturating_sub(room);
                input.chars().skip(skip).collect()
            };
            let mut lines = vec![
                Line::from(label.clone()),
                Line::from(vec![
                    Span::styled("> ", theme::key()),
                    Span::raw(shown.clone()),
                ]),
                Line::default(),
            ];
            lines.push(match hint {
                Some(h) => Line::styled(h.clone(), theme::level(crate::snapshot::Level::Warn)),
                None => Line::styled("Enter continue · Esc cancel", theme::muted()),
            });
            let inner = Boxed::new(&format!(" {title} "), lines, width..=width, theme::accent())
                .render(frame, area);
            let x = inner
                .x
                .saturating_add(2)
                .saturating_add(u16::try_from(shown.chars().count()).unwrap_or(u16::MAX));
            frame.set_cursor_position(Position::new(
                x.min(inner.right().saturating_sub(1)),
                inner.y.saturating_add(1),
            ));
        }
        Overlay::Confirm { title, lines, .. } => {
            let mut body: Vec<Line> = lines.iter().map(|l| Line::from(l.clone())).collect();
            body.push(Line::default());
            body.push(Line::from(vec![
                Span::styled("y", theme::key()),
                Span::raw(" yes, do it   "),
                Span::styled("n", theme::key()),
                Span::raw(" no"),
            ]));
            Boxed::new(
                &format!(" {title} "),
                body,
                0..=70,
                theme::level(crate::snapshot::Level::Warn),
            )
            .render(frame, area);
        }
        Overlay::Error { title, message } => {
            let body = vec![
                Line::styled(message.clone(), theme::error()),
                Line::default(),
                Line::styled("Esc or Enter to close", theme::muted()),
            ];
            Boxed::new(&format!(" {title} "), body, 0..=70, theme::error()).render(frame, area);
        }
    }
}

/// The box of an open detail, when its row is still listed.
fn detail_box(state: &AppState, screen: usize, id: i64) -> Option<Boxed<'static>> {
    let target = screens::get(screen);
    let row = state.lists.get(screen).and_then(|l| {
        l.rows
            .iter()
            .copied()
            .find(|&r| target.row_id(&state.snapshot, r) == Some(id))
    })?;
    let detail = target.detail(state, row)?;
    let mut lines = detail.lines;
    lines.push(Line::default());
    lines.push(Line::styled(
        "Esc back · j/k previous/next · PgDn/PgUp scroll",
        theme::muted(),
    ));
    Some(
        Boxed::new(
            &format!(" {} ", detail.title),
            lines,
            0..=96,
            theme::border(),
        )
        .scroll_keys(" PgDn ↓ more ", " PgUp ↑ back "),
    )
}

/// How far the open detail can scroll in `area` (what does not fit).
pub fn detail_overflow(state: &AppState, screen: usize, id: i64, area: Rect) -> u16 {
    detail_box(state, screen, id).map_or(0, |b| b.overflow(area))
}

/// A bordered box centred in an area, sized to its text within `widths`
/// (wrapped at the widest).
struct Boxed<'a> {
    title: String,
    lines: Vec<Line<'a>>,
    widths: RangeInclusive<u16>,
    border: ratatui::style::Style,
    scroll: u16,
    /// The hints at the bottom when the text scrolls: (more below, at the end).
    scroll_keys: (&'static str, &'static str),
}

impl<'a> Boxed<'a> {
    fn new(
        title: &str,
        lines: Vec<Line<'a>>,
        widths: RangeInclusive<u16>,
        border: ratatui::style::Style,
    ) -> Self {
        Self {
            title: title.to_string(),
            lines,
            widths,
            border,
            scroll: 0,
            scroll_keys: (" j ↓ more ", " k ↑ back "),
        }
    }

    fn scroll_keys(mut self, more: &'static str, back: &'static str) -> Self {
        self.scroll_keys = (more, back);
        self
    }

    /// Start this many lines down (when the text is taller than the box).
    fn scroll(mut self, scroll: u16) -> Self {
        self.scroll = scroll;
        self
    }

    /// How wide and tall it is in `area`, and how many rows its text needs.
    fn measure(&self, area: Rect) -> (u16, u16, usize) {
        let widest = self.lines.iter().map(Line::width).max().unwrap_or(0);
        let title_w = self.title.chars().count();
        let width = u16::try_from(widest.max(title_w) + 4)
            .unwrap_or(u16::MAX)
            .clamp(*self.widths.start(), *self.widths.end())
            .min(area.width);
        let inner_w = usize::from(width.saturating_sub(4)).max(1);
        // Word wrapping may need one line more than the characters do.
        let rows: usize = self
            .lines
            .iter()
            .map(|l| match l.width() {
                w if w <= inner_w => 1,
                w => w.div_ceil(inner_w) + 1,
            })
            .sum();
        let height = u16::try_from(rows + 2).unwrap_or(u16::MAX).min(area.height);
        (width, height, rows)
    }

    /// How many rows of text do not fit in `area`.
    fn overflow(&self, area: Rect) -> u16 {
        let (_, height, rows) = self.measure(area);
        u16::try_from(rows.saturating_sub(usize::from(height.saturating_sub(2))))
            .unwrap_or(u16::MAX)
    }

    /// Draw it; returns the inside.
    fn render(self, frame: &mut Frame, area: Rect) -> Rect {
        let (width, height, _) = self.measure(area);
        // Text that does not fit scrolls, and the box says so.
        let overflow = self.overflow(area);
        let scroll = self.scroll.min(overflow);
        let Boxed {
            title,
            lines,
            border,
            scroll_keys: self_keys,
            ..
        } = self;
        let paragraph = Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0));
        let rect = area.centered(Constraint::Length(width), Constraint::Length(height));
        let mut block = Block::bordered()
            .title(Line::styled(title, theme::bold()))
            .border_style(border)
            .padding(ratatui::widgets::Padding::horizontal(1));
        if overflow > 0 {
            let more = if scroll < overflow {
                self_keys.0
            } else {
                self_keys.1
            };
            block = block.title_bottom(Line::styled(more, theme::muted()).right_aligned());
        }
        let inner = block.inner(rect);
        frame.render_widget(Clear, rect);
        frame.render_widget(paragraph.block(block), rect);
        inner
    }
}
