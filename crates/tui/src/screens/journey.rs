//! Journey: the funnel of the last 30 days (stages as bars, the hand-off,
//! service and satisfaction figures, revenue per channel by first and last
//! touch) above the lead hand-offs waiting on Sales with their SLA clock.

use chrono::{DateTime, TimeDelta, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Padding, Paragraph, Row};
use std::sync::Arc;
use std::time::Duration;

use vivid_core::Ctx;
use vivid_core::engine::events::Change;
use vivid_core::engine::handoffs::{self, Handoff};
use vivid_core::journey::read::{self, Funnel};
use vivid_core::journey::service;

use super::list::{TableSpec, table_rows};
use super::{Detail, Screen};
use crate::app::{AppState, ListView};
use crate::data::{self, BoxFuture, PartData};
use crate::format;
use crate::snapshot::{Level, Snapshot};
use crate::theme;

pub struct Journey;

/// The period the funnel covers.
pub const FUNNEL_PERIOD: TimeDelta = TimeDelta::days(30);

/// The screen's part: the funnel and the lead hand-offs waiting on Sales.
#[derive(Debug, Clone, Default)]
pub struct Leads {
    /// None before the first read.
    pub funnel: Option<Funnel>,
    /// Lead hand-offs not yet acknowledged, soonest due first.
    pub handoffs: Vec<Handoff>,
}

fn funnel(snap: &Snapshot) -> Option<&Funnel> {
    snap.get::<Leads>().and_then(|l| l.funnel.as_ref())
}

fn waiting(snap: &Snapshot) -> &[Handoff] {
    snap.get::<Leads>()
        .map(|l| l.handoffs.as_slice())
        .unwrap_or(&[])
}

/// Reads the funnel (a handful of aggregates) and the waiting leads when
/// the journey changes, at most every two seconds: prospects touch often.
struct Part;

impl data::Part for Part {
    fn concerns(&self, change: &Change) -> bool {
        change.workflow == vivid_core::journey::WORKFLOW
    }

    fn every(&self) -> Duration {
        Duration::from_secs(2)
    }

    fn load<'a>(
        &'a self,
        ctx: &'a Ctx,
        _operator: &'a str,
        _previous: Option<PartData>,
        _changes: &'a [Change],
    ) -> BoxFuture<'a, vivid_core::Result<PartData>> {
        Box::pin(async move {
            let funnel = read::funnel(ctx, FUNNEL_PERIOD).await?;
            let mut conn = ctx.pool.acquire().await?;
            let handoffs = handoffs::open_for(&mut conn, None)
                .await?
                .into_iter()
                .filter(|h| h.kind == service::LEAD_HANDOFF)
                .collect();
            Ok(Arc::new(Leads {
                funnel: Some(funnel),
                handoffs,
            }) as PartData)
        })
    }
}

const STAGE_W: usize = 10;
/// The list keeps at least this many lines (border, header, two rows).
const LIST_MIN: u16 = 5;

pub fn handoff_level(h: &Handoff, now: DateTime<Utc>) -> Level {
    if h.breached || h.due_at < now {
        Level::Alert
    } else {
        Level::Normal
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |x| format!("{:.1}%", x * 100.0))
}

fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}${}", format::count(cents.unsigned_abs() / 100))
}

/// A share drawn as a bar `width` cells wide.
fn bar(share: f64, width: usize) -> String {
    let share = if share.is_finite() {
        share.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let full = (share * width as f64).round() as usize;
    format!(
        "{}{}",
        "█".repeat(full),
        "░".repeat(width - full.min(width))
    )
}

fn stage_lines(f: &Funnel, width: u16) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(vec![
        Span::styled("Funnel ", theme::bold()),
        Span::styled(
            format!(
                "· {} prospects, 30 days",
                format::count(f.prospects.unsigned_abs())
            ),
            theme::muted(),
        ),
    ])];
    // name, bar, " 12345 100%"
    let bar_w = usize::from(width).saturating_sub(STAGE_W + 12).max(3);
    for (stage, n, share) in &f.stages {
        lines.push(Line::from(vec![
            Span::raw(format!(
                "{:<STAGE_W$}",
                stage.chars().take(STAGE_W).collect::<String>()
            )),
            Span::styled(bar(*share, bar_w), theme::accent()),
            Span::raw(format!(" {n:>5}")),
            Span::styled(format!(" {:>3.0}%", share * 100.0), theme::muted()),
        ]));
    }
    lines
}

fn kpi_lines(f: &Funnel) -> Vec<Line<'static>> {
    let label = |s: &str| Span::styled(format!("{s} "), theme::muted());
    let sep = || Span::styled(" · ", theme::muted());
    let sla = |v: Option<f64>| {
        let style = match v {
            Some(x) if x < 0.9 => theme::level(Level::Warn),
            _ => theme::bold(),
        };
        Span::styled(pct(v), style)
    };
    vec![
        Line::from(vec![
            label("handed off"),
            Span::styled(f.handed_off.to_string(), theme::bold()),
            sep(),
            label("contacted"),
            Span::styled(f.contacted.to_string(), theme::bold()),
        ]),
        Line::from(vec![
            label("customers"),
            Span::styled(f.customers.to_string(), theme::bold()),
            sep(),
            label("conversion"),
            Span::styled(pct(f.conversion_rate), theme::bold()),
        ]),
        Line::from(vec![
            label("time to first contact"),
            Span::styled(
                f.mean_time_to_first_contact_secs
                    .map_or("—".into(), |s| format::age(TimeDelta::seconds(s))),
                theme::bold(),
            ),
        ]),
        Line::from(vec![
            label("SLA lead"),
            sla(f.lead_handoff_sla_compliance),
            sep(),
            label("support"),
            sla(f.support_sla_compliance),
        ]),
        Line::from(vec![
            label("NPS"),
            Span::styled(
                f.nps.map_or("—".into(), |n| format!("{n:+.0}")),
                theme::bold(),
            ),
            sep(),
            label("CSAT"),
            Span::styled(
                f.csat.map_or("—".into(), |c| format!("{c:.1}")),
                theme::bold(),
            ),
            sep(),
            label("referral"),
            Span::styled(pct(f.referral_rate), theme::bold()),
        ]),
    ]
}

/// Revenue per channel, first / last touch, wrapped to `width`.
fn revenue_lines(f: &Funnel, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let head = "Revenue first/last touch: ";
    let mut lines = Vec::new();
    let mut line = vec![Span::styled(head, theme::bold())];
    let mut used = head.chars().count();
    for (i, (channel, first, last)) in f.revenue_by_channel.iter().enumerate() {
        let sep = if i + 1 < f.revenue_by_channel.len() {
            " · "
        } else {
            ""
        };
        let text = format!("{channel} {}/{}", money(*first), money(*last));
        let w = text.chars().count() + sep.chars().count();
        if used > 0 && used + w > width {
            lines.push(Line::from(std::mem::take(&mut line)));
            used = 0;
        }
        line.push(Span::raw(text));
        line.push(Span::styled(sep, theme::muted()));
        used += w;
    }
    if !line.is_empty() {
        lines.push(Line::from(line));
    }
    lines
}

/// The funnel's panel (columns, then revenue), for an inner width.
fn panel(f: &Funnel, inner: u16) -> (Vec<Line<'static>>, Vec<Line<'static>>, Vec<Line<'static>>) {
    let half = inner.saturating_sub(2) / 2;
    (stage_lines(f, half), kpi_lines(f), revenue_lines(f, inner))
}

/// The funnel box, then the list.
fn split(state: &AppState, body: Rect) -> (Rect, Rect) {
    let Some(f) = funnel(&state.snapshot) else {
        return (Rect::default(), body);
    };
    let (left, right, revenue) = panel(f, body.width.saturating_sub(4));
    let lines = left.len().max(right.len()) + revenue.len();
    let height = u16::try_from(lines + 2)
        .unwrap_or(u16::MAX)
        .min(body.height.saturating_sub(LIST_MIN));
    let [top, rest] =
        Layout::vertical([Constraint::Length(height), Constraint::Fill(1)]).areas(body);
    (top, rest)
}

fn matches(h: &Handoff, filter: &str) -> bool {
    let person = filter.strip_prefix('@').unwrap_or(filter);
    h.assignee
        .as_deref()
        .is_some_and(|a| a.to_lowercase().contains(person))
        || [&h.subject, &h.kind, &h.entity_id, &h.from_department]
            .iter()
            .any(|f| f.to_lowercase().contains(filter))
        || format!("#{}", h.id).contains(filter)
}

impl Screen for Journey {
    fn id(&self) -> &'static str {
        "journey"
    }

    fn part(&self) -> Option<&'static dyn data::Part> {
        Some(&Part)
    }

    fn title(&self) -> &'static str {
        "Journey"
    }

    fn short_title(&self) -> &'static str {
        "Jrny"
    }

    fn badge(&self, state: &AppState) -> Option<(String, Level)> {
        let open = waiting(&state.snapshot);
        let level = if open
            .iter()
            .any(|h| handoff_level(h, state.now) == Level::Alert)
        {
            Level::Alert
        } else {
            Level::Normal
        };
        (!open.is_empty()).then(|| (open.len().to_string(), level))
    }

    fn matching(&self, snap: &Snapshot, filter: &str) -> Vec<usize> {
        waiting(snap)
            .iter()
            .enumerate()
            .filter(|(_, h)| filter.is_empty() || matches(h, filter))
            .map(|(i, _)| i)
            .collect()
    }

    fn row_id(&self, snap: &Snapshot, row: usize) -> Option<i64> {
        waiting(snap).get(row).map(|h| h.id)
    }

    fn list_area(&self, state: &AppState, body: Rect) -> Rect {
        split(state, body).1
    }

    fn render(&self, state: &AppState, list: &ListView, frame: &mut Frame, body: Rect) {
        let snap = &state.snapshot;
        let (top, rest) = split(state, body);
        if let (false, Some(f)) = (top.is_empty(), funnel(snap)) {
            let block = Block::bordered()
                .title(Line::styled(" Funnel ", theme::bold()))
                .border_style(theme::border())
                .padding(Padding::horizontal(1));
            let inner = block.inner(top);
            frame.render_widget(block, top);
            let (left, right, revenue) = panel(f, inner.width);
            let cols = u16::try_from(left.len().max(right.len())).unwrap_or(u16::MAX);
            let [columns, bottom] =
                Layout::vertical([Constraint::Length(cols), Constraint::Fill(1)]).areas(inner);
            let [l, _, r] = Layout::horizontal([
                Constraint::Fill(1),
                Constraint::Length(2),
                Constraint::Fill(1),
            ])
            .areas(columns);
            frame.render_widget(Paragraph::new(left), l);
            frame.render_widget(Paragraph::new(right), r);
            frame.render_widget(Paragraph::new(revenue), bottom);
        }
        let spec = TableSpec {
            title: Line::styled(" Lead hand-offs waiting on Sales ", theme::bold()),
            header: Row::new(["#", "Lead", "Assignee", "Waiting", "SLA"]),
            widths: vec![
                Constraint::Length(5),
                Constraint::Fill(1),
                Constraint::Length(10),
                Constraint::Length(8),
                Constraint::Length(16),
            ],
            empty: if list.filter.is_empty() {
                "No lead waits on Sales.".into()
            } else {
                format!("No hand-off matches “{}”.", list.filter)
            },
        };
        table_rows(frame, rest, list, spec, |i| {
            let Some(h) = waiting(snap).get(i) else {
                return Row::default();
            };
            Row::new(vec![
                Cell::from(Span::styled(format!("#{}", h.id), theme::muted())),
                Cell::from(h.subject.clone()),
                Cell::from(
                    h.assignee
                        .as_deref()
                        .map_or("—".into(), |a| format!("@{a}")),
                ),
                Cell::from(format::age(state.now - h.created_at)),
                Cell::from(Span::styled(
                    if h.breached && h.due_at >= state.now {
                        "breached".into()
                    } else {
                        format::countdown(h.due_at - state.now)
                    },
                    theme::level(handoff_level(h, state.now)),
                )),
            ])
        });
    }

    fn detail(&self, state: &AppState, row: usize) -> Option<Detail> {
        let h = waiting(&state.snapshot).get(row)?;
        let label = |s: &str| Span::styled(format!("{s:<11}"), theme::muted());
        let lines = vec![
            Line::from(vec![
                label("hand-off"),
                Span::raw(format!(
                    "#{} · {} · {} → {}",
                    h.id, h.kind, h.from_department, h.to_department
                )),
            ]),
            Line::from(vec![
                label("lead"),
                Span::raw(format!("{} ({} {})", h.subject, h.workflow, h.entity_id)),
            ]),
            Line::from(vec![
                label("assignee"),
                Span::raw(
                    h.assignee
                        .as_deref()
                        .map_or("—".into(), |a| format!("@{a}")),
                ),
            ]),
            Line::from(vec![
                label("handed"),
                Span::raw(format!(
                    "{} by @{}",
                    format::timestamp(h.created_at),
                    h.created_by
                )),
            ]),
            Line::from(vec![
                label("due"),
                Span::raw(format!("{} ", format::timestamp(h.due_at))),
                Span::styled(
                    format!("({})", format::countdown(h.due_at - state.now)),
                    theme::level(handoff_level(h, state.now)),
                ),
            ]),
        ];
        let mut lines = lines;
        lines.extend(brief_lines(&h.payload));
        Some(Detail {
            title: format!("Hand-off #{} · {}", h.id, h.subject),
            lines,
        })
    }
}

/// The lead's brief carried by its hand-off (issue 19): source, fit, the
/// score breakdown and the last touches; nothing when absent.
fn brief_lines(payload: &serde_json::Value) -> Vec<Line<'static>> {
    let label = |s: &str| Span::styled(format!("{s:<11}"), theme::muted());
    let mut out = Vec::new();
    let text = |k: &str| payload.get(k).and_then(|v| v.as_str()).map(str::to_string);
    if let Some(src) = text("source_channel") {
        let campaign = text("campaign")
            .map(|c| format!(" · {c}"))
            .unwrap_or_default();
        out.push(Line::from(vec![
            label("source"),
            Span::raw(format!("{src}{campaign}")),
        ]));
    }
    if let (Some(e), Some(f)) = (
        payload
            .get("engagement")
            .and_then(serde_json::Value::as_f64),
        payload.get("fit").and_then(serde_json::Value::as_f64),
    ) {
        out.push(Line::from(vec![
            label("scores"),
            Span::raw(format!("engagement {e:.0} · fit {f:.0}")),
        ]));
    }
    for (key, name) in [("breakdown", "by touch"), ("timeline", "touches")] {
        let items: Vec<String> = payload
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        for (i, item) in items.into_iter().take(5).enumerate() {
            let l = if i == 0 { label(name) } else { label("") };
            out.push(Line::from(vec![l, Span::raw(item)]));
        }
    }
    if let Some(next) = text("next_content") {
        out.push(Line::from(vec![label("next"), Span::raw(next)]));
    }
    out
}
