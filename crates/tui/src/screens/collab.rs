//! Collaboration: the department matrix (open, imminent, breached, response
//! and resolution times per edge over 30 days) above the queue of hand-offs
//! the operator's department must act on (everyone's when it receives none),
//! with ack / done keys.

use chrono::{DateTime, TimeDelta, Utc};
use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Padding, Paragraph, Row};
use std::sync::Arc;
use std::time::Duration;

use vivid_core::Ctx;
use vivid_core::collab::model::State;
use vivid_core::collab::read::{self, Matrix};
use vivid_core::collab::service::{self, View};
use vivid_core::engine::events::Change;

use super::list::{TableSpec, table_rows};
use super::{Detail, KeyHelp, Reaction, Screen};
use crate::app::{Action, AppState, HandoffCmd, HandoffOp, ListView};
use crate::data::{self, BoxFuture, PartData};
use crate::format;
use crate::snapshot::{Level, Snapshot};
use crate::theme;

pub struct Collab;

/// The window the matrix covers.
pub const MATRIX_WINDOW: TimeDelta = TimeDelta::days(30);

/// The screen's part: the matrix and a department's queue.
#[derive(Debug, Clone, Default)]
pub struct Board {
    /// None before the first read.
    pub matrix: Option<Matrix>,
    /// Whose queue: the operator's department, or None for everyone's.
    pub department: Option<String>,
    pub queue: Vec<View>,
}

fn board(snap: &Snapshot) -> Option<&Board> {
    snap.get::<Board>()
}

fn queue(snap: &Snapshot) -> &[View] {
    board(snap).map(|b| b.queue.as_slice()).unwrap_or(&[])
}

/// Reads the matrix and the queue when any hand-off changes (whichever
/// workflow opened it), at most every second.
struct Part;

impl data::Part for Part {
    fn concerns(&self, change: &Change) -> bool {
        change.entity_type == "handoff" || change.workflow == vivid_core::collab::WORKFLOW
    }

    fn every(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn poll(&self, _data: &PartData) -> Option<Duration> {
        // Clocks cross their due times without an event.
        Some(Duration::from_secs(30))
    }

    fn load<'a>(
        &'a self,
        ctx: &'a Ctx,
        operator: &'a str,
        _previous: Option<PartData>,
        _changes: &'a [Change],
    ) -> BoxFuture<'a, vivid_core::Result<PartData>> {
        Box::pin(async move {
            let matrix = read::matrix(ctx, ctx.now() - MATRIX_WINDOW).await?;
            let department = ctx
                .org
                .person(operator)
                .map(|p| p.department.clone())
                .filter(|d| {
                    service::kinds(ctx)
                        .map(|ks| ks.iter().any(|k| &k.to == d))
                        .unwrap_or(false)
                });
            let queue = match &department {
                Some(d) => service::queue(ctx, d).await?,
                None => service::list(ctx, None, None).await?,
            };
            Ok(Arc::new(Board {
                matrix: Some(matrix),
                department,
                queue,
            }) as PartData)
        })
    }
}

/// The due time that matters now: the response while open, else the resolution.
fn due(v: &View) -> Option<DateTime<Utc>> {
    match v.state {
        State::Open => Some(v.response_due_at),
        s if s.is_terminal() => None,
        _ => v.resolution_due_at,
    }
}

pub fn level(v: &View, now: DateTime<Utc>) -> Level {
    if v.overdue(now) {
        Level::Alert
    } else if v.imminent {
        Level::Warn
    } else {
        Level::Normal
    }
}

fn sla_text(v: &View, now: DateTime<Utc>) -> String {
    match due(v) {
        None if v.state == State::Waiting => "paused".into(),
        None => "—".into(),
        Some(d) => format::countdown(d - now),
    }
}

fn secs(s: Option<i64>) -> String {
    s.map_or("—".into(), |s| format::age(TimeDelta::seconds(s)))
}

fn short(d: &str) -> &str {
    match d {
        "customer_experience" => "CX",
        "marketing" => "Mkt",
        "finance" => "Fin",
        "product" => "Prod",
        "sales" => "Sales",
        other => other,
    }
}

fn matrix_lines(m: &Matrix) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{:<12}", "Edge"), theme::header()),
        Span::styled(
            format!(
                "{:>5} {:>5} {:>5} {:>5} {:>12} {:>12}",
                "open", "soon", "late", "vol", "resp p50/90", "done p50/90"
            ),
            theme::header(),
        ),
    ])];
    for e in &m.edges {
        let edge = format!(
            "{}→{}",
            short(e.from.as_deref().unwrap_or("*")),
            short(&e.to)
        );
        let late = if e.breached > 0 {
            theme::level(Level::Alert)
        } else {
            theme::muted()
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{edge:<12}")),
            Span::raw(format!("{:>5} ", e.open)),
            Span::styled(
                format!("{:>5} ", e.imminent),
                if e.imminent > 0 {
                    theme::level(Level::Warn)
                } else {
                    theme::muted()
                },
            ),
            Span::styled(format!("{:>5} ", e.breached), late),
            Span::raw(format!("{:>5} ", e.volume)),
            Span::styled(
                format!(
                    "{:>12} {:>12}",
                    format!(
                        "{}/{}",
                        secs(e.response_median_seconds),
                        secs(e.response_p90_seconds)
                    ),
                    format!(
                        "{}/{}",
                        secs(e.resolution_median_seconds),
                        secs(e.resolution_p90_seconds)
                    ),
                ),
                theme::muted(),
            ),
        ]));
    }
    if m.edges.is_empty() {
        lines.push(Line::styled("No hand-offs in 30 days.", theme::muted()));
    }
    lines
}

/// The list keeps at least this many lines (border, header, two rows).
const LIST_MIN: u16 = 5;

fn split(state: &AppState, body: Rect) -> (Rect, Rect) {
    let Some(m) = board(&state.snapshot).and_then(|b| b.matrix.as_ref()) else {
        return (Rect::default(), body);
    };
    let lines = matrix_lines(m).len();
    let height = u16::try_from(lines + 2)
        .unwrap_or(u16::MAX)
        .min(body.height.saturating_sub(LIST_MIN));
    let [top, rest] =
        Layout::vertical([Constraint::Length(height), Constraint::Fill(1)]).areas(body);
    (top, rest)
}

fn matches(v: &View, filter: &str) -> bool {
    [
        &v.title,
        &v.kind,
        &v.from,
        &v.to,
        &v.state.as_str().to_string(),
    ]
    .iter()
    .any(|f| f.to_lowercase().contains(filter))
        || v.assignee
            .as_deref()
            .is_some_and(|a| a.to_lowercase().contains(filter.trim_start_matches('@')))
        || format!("#{}", v.id).contains(filter)
}

fn command(v: &View, op: HandoffOp) -> Action {
    Action::Handoff(HandoffCmd {
        id: v.id,
        title: v.title.clone(),
        op,
    })
}

impl Screen for Collab {
    fn id(&self) -> &'static str {
        "collab"
    }

    fn part(&self) -> Option<&'static dyn data::Part> {
        Some(&Part)
    }

    fn title(&self) -> &'static str {
        "Collaboration"
    }

    fn short_title(&self) -> &'static str {
        "Collab"
    }

    fn badge(&self, state: &AppState) -> Option<(String, Level)> {
        let q = queue(&state.snapshot);
        let level = q
            .iter()
            .map(|v| level(v, state.now))
            .max_by_key(|l| match l {
                Level::Alert => 2,
                Level::Warn => 1,
                _ => 0,
            })
            .unwrap_or(Level::Normal);
        (!q.is_empty()).then(|| (q.len().to_string(), level))
    }

    fn matching(&self, snap: &Snapshot, filter: &str) -> Vec<usize> {
        queue(snap)
            .iter()
            .enumerate()
            .filter(|(_, v)| filter.is_empty() || matches(v, filter))
            .map(|(i, _)| i)
            .collect()
    }

    fn row_id(&self, snap: &Snapshot, row: usize) -> Option<i64> {
        queue(snap).get(row).map(|v| v.id)
    }

    fn list_area(&self, state: &AppState, body: Rect) -> Rect {
        split(state, body).1
    }

    fn render(&self, state: &AppState, list: &ListView, frame: &mut Frame, body: Rect) {
        let snap = &state.snapshot;
        let (top, rest) = split(state, body);
        if let (false, Some(m)) = (top.is_empty(), board(snap).and_then(|b| b.matrix.as_ref())) {
            let block = Block::bordered()
                .title(Line::styled(" Department matrix · 30 days ", theme::bold()))
                .border_style(theme::border())
                .padding(Padding::horizontal(1));
            let inner = block.inner(top);
            frame.render_widget(block, top);
            frame.render_widget(Paragraph::new(matrix_lines(m)), inner);
        }
        let title = match board(snap).and_then(|b| b.department.as_deref()) {
            Some(d) => format!(" Hand-offs waiting on {d} "),
            None => " Live hand-offs ".into(),
        };
        let spec = TableSpec {
            title: Line::styled(title, theme::bold()),
            header: Row::new(["#", "Kind", "From", "State", "SLA", "Title"]),
            widths: vec![
                Constraint::Length(5),
                Constraint::Length(17),
                Constraint::Length(6),
                Constraint::Length(13),
                Constraint::Length(15),
                Constraint::Fill(1),
            ],
            empty: if list.filter.is_empty() {
                "Nothing waits: no hand-off is open.".into()
            } else {
                format!("No hand-off matches “{}”.", list.filter)
            },
        };
        table_rows(frame, rest, list, spec, |i| {
            let Some(v) = queue(snap).get(i) else {
                return Row::default();
            };
            Row::new(vec![
                Cell::from(Span::styled(format!("#{}", v.id), theme::muted())),
                Cell::from(v.kind.clone()),
                Cell::from(short(&v.from).to_string()),
                Cell::from(match v.state {
                    State::Waiting => "waiting",
                    s => s.label(),
                }),
                Cell::from(Span::styled(
                    sla_text(v, state.now),
                    theme::level(level(v, state.now)),
                )),
                Cell::from(v.title.clone()),
            ])
        });
    }

    fn detail(&self, state: &AppState, row: usize) -> Option<Detail> {
        let v = queue(&state.snapshot).get(row)?;
        let label = |s: &str| Span::styled(format!("{s:<11}"), theme::muted());
        let mut lines = vec![
            Line::from(vec![
                label("hand-off"),
                Span::raw(format!("#{} · {} · {} → {}", v.id, v.kind, v.from, v.to)),
            ]),
            Line::from(vec![label("state"), Span::raw(v.state.label().to_string())]),
            Line::from(vec![
                label("requested"),
                Span::raw(format!(
                    "{} by @{}",
                    format::timestamp(v.requested_at),
                    v.requested_by
                )),
            ]),
            Line::from(vec![
                label("assignee"),
                Span::raw(
                    v.assignee
                        .as_deref()
                        .map_or("(queue)".into(), |a| format!("@{a}")),
                ),
            ]),
            Line::from(vec![
                label("respond by"),
                Span::raw(format::timestamp(v.response_due_at)),
            ]),
        ];
        if let Some(r) = v.resolution_due_at {
            lines.push(Line::from(vec![
                label("resolve by"),
                Span::raw(format::timestamp(r)),
            ]));
        }
        if let Some(obj) = v.payload.as_object() {
            for (k, val) in obj {
                let text = val
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| val.to_string());
                lines.push(Line::from(vec![label(k), Span::raw(text)]));
            }
        }
        lines.push(Line::from(vec![
            label("accountable"),
            Span::raw(format!("@{}", v.raci.accountable)),
        ]));
        Some(Detail {
            title: format!("Hand-off #{} · {}", v.id, v.title),
            lines,
        })
    }

    fn keys(&self) -> &'static [KeyHelp] {
        &[
            KeyHelp {
                keys: "a",
                short: "ack",
                what: "acknowledge the selected hand-off (first response)",
            },
            KeyHelp {
                keys: "d",
                short: "done",
                what: "mark the selected hand-off done",
            },
        ]
    }

    fn on_key(&self, state: &AppState, row: Option<usize>, key: &KeyEvent) -> Option<Reaction> {
        let v = queue(&state.snapshot).get(row?)?;
        match key.code {
            KeyCode::Char('a') => Some(Reaction::Act(command(v, HandoffOp::Acknowledge))),
            KeyCode::Char('d') => Some(Reaction::Act(command(v, HandoffOp::Done))),
            _ => None,
        }
    }
}
