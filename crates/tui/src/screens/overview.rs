//! Overview: a tile per workflow (open items, breaches) above the KPIs.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row};

use std::sync::Arc;
use std::time::{Duration, Instant};

use vivid_core::Ctx;
use vivid_core::engine::events::{Change, METRICS};
use vivid_core::status::{self, Kpi, Status};

use super::list::{TableSpec, table_rows};
use super::{Detail, Screen};
use crate::app::{AppState, ListView};
use crate::data::{self, BoxFuture, PartData};
use crate::format;
use crate::snapshot::{Snapshot, Tile, status_tiles};
use crate::theme;

pub struct Overview;

/// The screen's part: a tile per workflow and shared mechanism, and the KPIs.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub tiles: Vec<Tile>,
    pub kpis: Vec<Kpi>,
    /// What the tiles were drawn from, patched piece by piece.
    pub status: Option<Status>,
    /// When the engine's figures (timers, outbox, workers) were last read.
    pub engine_read: Option<Instant>,
}

/// Engine figures change with every timer and notification: read them at
/// most this often while things happen (and on every heartbeat).
const ENGINE_EVERY: Duration = Duration::from_secs(5);

fn figures(snap: &Snapshot) -> Option<&Figures> {
    snap.get::<Figures>()
}

fn tiles(snap: &Snapshot) -> &[Tile] {
    figures(snap).map(|f| f.tiles.as_slice()).unwrap_or(&[])
}

fn kpis(snap: &Snapshot) -> &[Kpi] {
    figures(snap).map(|f| f.kpis.as_slice()).unwrap_or(&[])
}

/// Reads the status report once, then only the pieces a change concerns:
/// the changed workflows' tiles, approval and escalation counts, the KPIs
/// after a metric, the engine's figures on its heartbeat.
struct Part;

impl data::Part for Part {
    fn concerns(&self, _change: &Change) -> bool {
        true
    }

    fn every(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn load<'a>(
        &'a self,
        ctx: &'a Ctx,
        _operator: &'a str,
        previous: Option<PartData>,
        changes: &'a [Change],
    ) -> BoxFuture<'a, vivid_core::Result<PartData>> {
        Box::pin(async move {
            let previous = data::previous::<Figures>(previous);
            let Some(mut s) = previous.as_ref().and_then(|p| p.status.clone()) else {
                let s = status::collect(ctx).await?;
                return Ok(Arc::new(Figures {
                    tiles: status_tiles(&s),
                    kpis: s.kpis.clone(),
                    status: Some(s),
                    engine_read: Some(Instant::now()),
                }) as PartData);
            };
            let mut engine_read = previous.and_then(|p| p.engine_read);
            let now = ctx.now();
            let mut conn = ctx.pool.acquire().await?;
            let any = |f: &dyn Fn(&Change) -> bool| changes.iter().any(f);
            for w in &mut s.workflows {
                let name = w.name.clone();
                if any(&|c| c.workflow == name) {
                    *w = status::tile(ctx, &name).await?;
                }
            }
            if any(&|c| c.entity_type == "approval") {
                s.approvals = status::approvals(&mut conn, now).await?;
            }
            if any(&|c| c.entity_type == "escalation" || c.entity_type == "deadline") {
                s.escalations = status::escalations(&mut conn).await?;
            }
            if any(&|c| c.workflow == METRICS) {
                s.kpis = status::kpis(&mut conn).await?;
            }
            let heartbeat = any(&|c| c.entity_type == "heartbeat");
            if heartbeat || engine_read.is_none_or(|at| at.elapsed() >= ENGINE_EVERY) {
                s.engine = status::engine(&mut conn, now).await?;
                s.events = status::events(&mut conn, now).await?;
                engine_read = Some(Instant::now());
            } else if let Some(newest) = changes.iter().filter_map(|c| c.id).max() {
                // The newest event is named by the change itself.
                s.events.last_id = Some(s.events.last_id.unwrap_or(0).max(newest));
            }
            s.generated_at = now;
            Ok(Arc::new(Figures {
                tiles: status_tiles(&s),
                kpis: s.kpis.clone(),
                status: Some(s),
                engine_read,
            }) as PartData)
        })
    }
}

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
    let tiles = tiles(snap);
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
    fn part(&self) -> Option<&'static dyn data::Part> {
        Some(&Part)
    }

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
        kpis(snap)
            .iter()
            .enumerate()
            .filter(|(_, k)| filter.is_empty() || k.metric.to_lowercase().contains(filter))
            .map(|(i, _)| i)
            .collect()
    }

    fn row_id(&self, snap: &Snapshot, row: usize) -> Option<i64> {
        // Metrics have no numeric id; their order (by name) is stable.
        kpis(snap).get(row).and_then(|_| i64::try_from(row).ok())
    }

    fn list_area(&self, state: &AppState, body: Rect) -> Rect {
        split(&state.snapshot, body).1
    }

    fn render(&self, state: &AppState, list: &ListView, frame: &mut Frame, body: Rect) {
        let snap = &state.snapshot;
        let (top, rest) = split(snap, body);
        if !top.is_empty() {
            let cols = columns(top.width, tiles(snap).len());
            let heights = row_heights(tiles(snap), top.width);
            let mut y = top.y;
            for (chunk, height) in tiles(snap).chunks(cols).zip(heights) {
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
            let Some(k) = kpis(snap).get(i) else {
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
        let k = kpis(&state.snapshot).get(row)?;
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
