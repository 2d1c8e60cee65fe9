//! Overview: a tile per workflow (open items, breaches) above the KPIs.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row};

use super::list::{TableSpec, table_rows};
use super::{Detail, Screen};
use crate::app::{AppState, ListView};
use crate::format;
use crate::snapshot::{Snapshot, Tile};
use crate::theme;

pub struct Overview;

/// Narrower tiles wrap onto another row.
const TILE_MIN_WIDTH: u16 = 19;
const METRIC_W: u16 = 22;
const VALUE_W: u16 = 10;
const AT_W: u16 = 11;

fn columns(width: u16, tiles: usize) -> usize {
    usize::from(width / TILE_MIN_WIDTH).clamp(1, tiles.max(1))
}

fn tile_height(tiles: &[Tile]) -> u16 {
    let lines = tiles
        .iter()
        .map(|t| t.stats.len() + usize::from(t.trend.is_some()))
        .max()
        .unwrap_or(0);
    u16::try_from(lines + 2).unwrap_or(u16::MAX)
}

/// The height of each row of tiles (a row is as tall as its tallest tile).
fn row_heights(tiles: &[Tile], width: u16) -> Vec<u16> {
    tiles
        .chunks(columns(width, tiles.len()))
        .map(tile_height)
        .collect()
}

/// The rows of tiles, then the KPI list.
fn split(snap: &Snapshot, body: Rect) -> (Rect, Rect) {
    let tiles = &snap.tiles;
    if tiles.is_empty() {
        return (Rect::default(), body);
    }
    let height = row_heights(tiles, body.width)
        .iter()
        .fold(0u16, |sum, h| sum.saturating_add(*h))
        .min(body.height);
    let [top, rest] =
        Layout::vertical([Constraint::Length(height), Constraint::Fill(1)]).areas(body);
    (top, rest)
}

fn render_tile(tile: &Tile, frame: &mut Frame, area: Rect) {
    let block = Block::bordered()
        .title(Line::styled(format!(" {} ", tile.title), theme::bold()))
        .border_style(theme::border_for(tile.level()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let mut lines: Vec<Line> = tile
        .stats
        .iter()
        .map(|s| {
            // The value wins; a label too long for the tile is cut short.
            let room = width.saturating_sub(s.value.chars().count() + 1);
            let label = if s.label.chars().count() > room {
                let cut: String = s.label.chars().take(room.saturating_sub(1)).collect();
                format!("{cut}…")
            } else {
                s.label.clone()
            };
            let pad = width.saturating_sub(label.chars().count() + s.value.chars().count());
            Line::from(vec![
                Span::raw(label),
                Span::raw(" ".repeat(pad)),
                Span::styled(s.value.clone(), theme::level(s.level)),
            ])
        })
        .collect();
    if let Some(trend) = &tile.trend {
        lines.push(Line::styled(
            format::sparkline(format::tail(trend, width)),
            theme::accent(),
        ));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

impl Screen for Overview {
    fn id(&self) -> &'static str {
        "overview"
    }

    fn title(&self) -> &'static str {
        "Overview"
    }

    fn short_title(&self) -> &'static str {
        "Home"
    }

    fn matching(&self, snap: &Snapshot, filter: &str) -> Vec<usize> {
        snap.kpis
            .iter()
            .enumerate()
            .filter(|(_, k)| filter.is_empty() || k.metric.to_lowercase().contains(filter))
            .map(|(i, _)| i)
            .collect()
    }

    fn row_id(&self, snap: &Snapshot, row: usize) -> Option<i64> {
        // Metrics have no numeric id; their order (by name) is stable.
        snap.kpis.get(row).and_then(|_| i64::try_from(row).ok())
    }

    fn list_area(&self, state: &AppState, body: Rect) -> Rect {
        split(&state.snapshot, body).1
    }

    fn render(&self, state: &AppState, list: &ListView, frame: &mut Frame, body: Rect) {
        let snap = &state.snapshot;
        let (top, rest) = split(snap, body);
        if !top.is_empty() {
            let cols = columns(top.width, snap.tiles.len());
            let heights = row_heights(&snap.tiles, top.width);
            let mut y = top.y;
            for (chunk, height) in snap.tiles.chunks(cols).zip(heights) {
                let row = Rect::new(top.x, y, top.width, height).intersection(top);
                y = y.saturating_add(height);
                let areas =
                    Layout::horizontal(vec![Constraint::Ratio(1, cols as u32); cols]).split(row);
                for (tile, area) in chunk.iter().zip(areas.iter()) {
                    render_tile(tile, frame, *area);
                }
            }
        }
        let trend_w = usize::from(rest.width.saturating_sub(2 + METRIC_W + VALUE_W + AT_W + 3));
        let spec = TableSpec {
            title: Line::styled(" KPIs ", theme::bold()),
            header: Row::new(vec![
                Cell::from("Metric"),
                Cell::from(Line::from("Value").right_aligned()),
                Cell::from("Trend"),
                Cell::from("Updated"),
            ]),
            widths: vec![
                Constraint::Length(METRIC_W),
                Constraint::Length(VALUE_W),
                Constraint::Fill(1),
                Constraint::Length(AT_W),
            ],
            empty: if list.filter.is_empty() {
                "No metric readings yet.".into()
            } else {
                format!("No metric matches “{}”.", list.filter)
            },
        };
        table_rows(frame, rest, list, spec, |i| {
            let Some(k) = snap.kpis.get(i) else {
                return Row::default();
            };
            Row::new(vec![
                Cell::from(k.metric.clone()),
                Cell::from(Line::from(format::number(k.value, &k.unit)).right_aligned()),
                Cell::from(Span::styled(
                    format::sparkline(format::tail(&k.trend, trend_w)),
                    theme::accent(),
                )),
                Cell::from(Span::styled(format::when(k.at, state.now), theme::muted())),
            ])
        });
    }

    fn detail(&self, state: &AppState, row: usize) -> Option<Detail> {
        let k = state.snapshot.kpis.get(row)?;
        let about = vivid_core::metrics::KNOWN
            .iter()
            .find(|(name, _, _)| *name == k.metric)
            .map(|(_, _, what)| *what)
            .unwrap_or("");
        let label = |s: &str| Span::styled(format!("{s:<10}"), theme::muted());
        let mut lines = vec![
            Line::from(about.to_string()),
            Line::default(),
            Line::from(vec![
                label("latest"),
                Span::styled(format::number(k.value, &k.unit), theme::bold()),
            ]),
            Line::from(vec![label("read at"), Span::raw(format::timestamp(k.at))]),
            Line::from(vec![label("unit"), Span::raw(k.unit.clone())]),
        ];
        if !k.trend.is_empty() {
            let n = k.trend.len() as f64;
            let (lo, hi, sum) = k
                .trend
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY, 0.0), |(lo, hi, s), v| {
                    (lo.min(*v), hi.max(*v), s + v)
                });
            lines.extend([
                Line::default(),
                Line::from(vec![
                    label("last"),
                    Span::raw(format!("{} readings", k.trend.len())),
                ]),
                Line::from(vec![label("min"), Span::raw(format::number(lo, &k.unit))]),
                Line::from(vec![
                    label("mean"),
                    Span::raw(format::number(sum / n, &k.unit)),
                ]),
                Line::from(vec![label("max"), Span::raw(format::number(hi, &k.unit))]),
                Line::from(vec![
                    label("trend"),
                    Span::styled(format::sparkline(&k.trend), theme::accent()),
                ]),
            ]);
        }
        Some(Detail {
            title: k.metric.clone(),
            lines,
        })
    }
}
