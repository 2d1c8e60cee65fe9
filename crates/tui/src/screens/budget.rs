//! Budget: budget decisions waiting (spend reviews, requests, line changes,
//! reallocations) with approve / deny keys, then every line of the current
//! period as a gauge of spent | committed | forecast against its budget,
//! with its alarms.

use std::sync::Arc;

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row};

use vivid_core::Ctx;
use vivid_core::budget::model::format_cents;
use vivid_core::budget::read::{LineStatus, Pending};
use vivid_core::engine::approvals::Decision;
use vivid_core::engine::events::Change;

use super::list::{TableSpec, table_rows};
use super::{Detail, KeyHelp, Reaction, Screen};
use crate::app::{self, Action, AppState, DecideCmd, ListView, Overlay};
use crate::data::{self, BoxFuture, PartData};
use crate::format;
use crate::snapshot::{Level, Snapshot};
use crate::theme;

pub struct Budget;

/// The screen's part: what waits and the period's lines.
#[derive(Debug, Clone, Default)]
pub struct Board {
    pub period: String,
    pub day: i64,
    pub days: i64,
    pub pending: Vec<Pending>,
    pub lines: Vec<LineStatus>,
}

fn board(snap: &Snapshot) -> Option<&Board> {
    snap.get::<Board>()
}

/// Reads the board when budget (or an approval of it) changes.
struct Part;

impl data::Part for Part {
    fn concerns(&self, change: &Change) -> bool {
        change.workflow == vivid_core::budget::WORKFLOW
    }

    fn every(&self) -> std::time::Duration {
        std::time::Duration::from_millis(500)
    }

    fn load<'a>(
        &'a self,
        ctx: &'a Ctx,
        _operator: &'a str,
        _previous: Option<PartData>,
        _changes: &'a [Change],
    ) -> BoxFuture<'a, vivid_core::Result<PartData>> {
        Box::pin(async move {
            let st = vivid_core::budget::read::status(ctx, None, None, None).await?;
            let pending = vivid_core::budget::read::pending(ctx).await?;
            Ok(Arc::new(Board {
                period: st.period,
                day: st.elapsed_days,
                days: st.total_days,
                pending,
                lines: st.lines,
            }) as PartData)
        })
    }
}

enum Item<'a> {
    Pending(&'a Pending),
    Line(&'a LineStatus),
}

fn item(snap: &Snapshot, row: usize) -> Option<Item<'_>> {
    let b = board(snap)?;
    let n = b.pending.len();
    if row < n {
        b.pending.get(row).map(Item::Pending)
    } else {
        b.lines.get(row - n).map(Item::Line)
    }
}

fn rows(snap: &Snapshot) -> usize {
    board(snap).map_or(0, |b| b.pending.len() + b.lines.len())
}

fn line_name(l: &LineStatus) -> String {
    let mut s = l.department.clone();
    for part in [&l.channel, &l.campaign].into_iter().flatten() {
        s.push('/');
        s.push_str(part);
    }
    s
}

pub fn line_level(l: &LineStatus) -> Level {
    if l.utilization >= 1.0 {
        Level::Alert
    } else if !l.alerts.is_empty() {
        Level::Warn
    } else {
        Level::Normal
    }
}

/// A text gauge: '█' spent, '▒' committed, '░' forecast beyond, against
/// the budget (the bar's width); '!' when over.
pub fn gauge(l: &LineStatus, width: usize) -> String {
    let budget = l.budget_cents.max(1) as f64;
    let cells = |cents: i64| ((cents.max(0) as f64 / budget) * width as f64).round() as usize;
    let spent = cells(l.spent_cents).min(width);
    let committed = cells(l.spent_cents.saturating_add(l.committed_cents))
        .min(width)
        .saturating_sub(spent);
    let forecast = cells(l.forecast_cents)
        .min(width)
        .saturating_sub(spent + committed);
    let mut s = "█".repeat(spent) + &"▒".repeat(committed) + &"░".repeat(forecast);
    let used = spent + committed + forecast;
    s.push_str(&" ".repeat(width.saturating_sub(used)));
    if l.forecast_cents > l.budget_cents {
        s.push('!');
    }
    s
}

fn decide(p: &Pending, decision: Decision) -> Action {
    Action::Decide(DecideCmd {
        request_id: p.approval_id,
        version: 1,
        title: p.title.clone(),
        decision,
        comment: String::new(),
    })
}

impl Screen for Budget {
    fn id(&self) -> &'static str {
        "budget"
    }

    fn part(&self) -> Option<&'static dyn data::Part> {
        Some(&Part)
    }

    fn title(&self) -> &'static str {
        "Budget"
    }

    fn short_title(&self) -> &'static str {
        "Bdgt"
    }

    fn badge(&self, state: &AppState) -> Option<(String, Level)> {
        let n = board(&state.snapshot).map_or(0, |b| b.pending.len());
        (n > 0).then(|| (n.to_string(), Level::Warn))
    }

    fn matching(&self, snap: &Snapshot, filter: &str) -> Vec<usize> {
        (0..rows(snap))
            .filter(|&i| {
                filter.is_empty()
                    || item(snap, i).is_some_and(|it| match it {
                        Item::Pending(p) => {
                            p.title.to_lowercase().contains(filter) || p.kind.contains(filter)
                        }
                        Item::Line(l) => line_name(l).to_lowercase().contains(filter),
                    })
            })
            .collect()
    }

    fn row_id(&self, snap: &Snapshot, row: usize) -> Option<i64> {
        item(snap, row).map(|it| match it {
            Item::Pending(p) => -p.approval_id,
            Item::Line(l) => l.id,
        })
    }

    fn render(&self, state: &AppState, list: &ListView, frame: &mut Frame, body: Rect) {
        let snap = &state.snapshot;
        let mut title = vec![Span::styled(" Budget ", theme::bold())];
        if let Some(b) = board(snap) {
            title.push(Span::styled(
                format!("{} · day {} of {} ", b.period, b.day, b.days),
                theme::muted(),
            ));
            if !b.pending.is_empty() {
                title.push(Span::styled(
                    format!("· {} waiting ", b.pending.len()),
                    theme::level(Level::Warn),
                ));
            }
        }
        let spec = TableSpec {
            title: Line::from(title),
            header: Row::new([
                "Line / decision",
                "Budget",
                "Spent|Cmt|Fcst",
                "Used",
                "Alarms",
            ]),
            widths: vec![
                Constraint::Fill(1),
                Constraint::Length(12),
                Constraint::Length(22),
                Constraint::Length(5),
                Constraint::Length(12),
            ],
            empty: if list.filter.is_empty() {
                "No budget lines in this period.".into()
            } else {
                format!("Nothing matches “{}”.", list.filter)
            },
        };
        table_rows(frame, body, list, spec, |i| match item(snap, i) {
            Some(Item::Pending(p)) => Row::new(vec![
                Cell::from(Span::styled(
                    format!("#{} {}", p.approval_id, p.title),
                    theme::level(Level::Warn),
                )),
                Cell::from(p.kind.clone()),
                Cell::from(p.status.clone()),
                Cell::from(""),
                Cell::from(Span::styled(
                    format::countdown(p.deadline - state.now),
                    theme::muted(),
                )),
            ]),
            Some(Item::Line(l)) => {
                let alarms: Vec<String> = l
                    .alerts
                    .iter()
                    .map(|a| {
                        format!(
                            "{}{:.0}",
                            if a.basis.as_str() == "actual" {
                                "A"
                            } else {
                                "F"
                            },
                            a.threshold * 100.0
                        )
                    })
                    .collect();
                Row::new(vec![
                    Cell::from(line_name(l)),
                    Cell::from(format_cents(l.budget_cents)),
                    Cell::from(Span::styled(gauge(l, 20), theme::level(line_level(l)))),
                    Cell::from(format!("{:.0}%", l.utilization * 100.0)),
                    Cell::from(Span::styled(alarms.join(" "), theme::level(line_level(l)))),
                ])
            }
            None => Row::default(),
        });
    }

    fn detail(&self, state: &AppState, row: usize) -> Option<Detail> {
        let label = |s: &str| Span::styled(format!("{s:<12}"), theme::muted());
        match item(&state.snapshot, row)? {
            Item::Pending(p) => {
                let mut lines = vec![
                    Line::from(vec![label("kind"), Span::raw(p.kind.clone())]),
                    Line::from(vec![label("status"), Span::raw(p.status.clone())]),
                    Line::from(vec![
                        label("asked by"),
                        Span::raw(format!("@{}", p.requested_by)),
                    ]),
                    Line::from(vec![
                        label("deadline"),
                        Span::raw(format::timestamp(p.deadline)),
                    ]),
                    Line::from(vec![
                        label("deciders"),
                        Span::raw(p.eligible_roles.join(", ")),
                    ]),
                ];
                if let Some(i) = &p.inputs {
                    for (k, v) in [
                        ("budget", "budget_cents"),
                        ("spent", "spent_cents"),
                        ("committed", "committed_cents"),
                        ("forecast", "forecast_cents"),
                    ] {
                        if let Some(c) = i.get(v).and_then(|x| x.as_i64()) {
                            lines.push(Line::from(vec![label(k), Span::raw(format_cents(c))]));
                        }
                    }
                    if let Some(top) = i.get("top_expenses").and_then(|t| t.as_array()) {
                        for e in top {
                            lines.push(Line::from(vec![
                                label("expense"),
                                Span::raw(format!(
                                    "{} {} {}",
                                    e.get("ref").and_then(|x| x.as_str()).unwrap_or_default(),
                                    format_cents(
                                        e.get("amount_cents").and_then(|x| x.as_i64()).unwrap_or(0)
                                    ),
                                    e.get("vendor").and_then(|x| x.as_str()).unwrap_or_default()
                                )),
                            ]));
                        }
                    }
                }
                Some(Detail {
                    title: format!("#{} {}", p.approval_id, p.title),
                    lines,
                })
            }
            Item::Line(l) => Some(Detail {
                title: format!("Line #{} {}", l.id, line_name(l)),
                lines: vec![
                    Line::from(vec![
                        label("budget"),
                        Span::raw(format_cents(l.budget_cents)),
                    ]),
                    Line::from(vec![label("spent"), Span::raw(format_cents(l.spent_cents))]),
                    Line::from(vec![
                        label("committed"),
                        Span::raw(format_cents(l.committed_cents)),
                    ]),
                    Line::from(vec![
                        label("expected"),
                        Span::raw(format_cents(l.expected_to_date_cents)),
                    ]),
                    Line::from(vec![
                        label("forecast"),
                        Span::raw(format_cents(l.forecast_cents)),
                    ]),
                    Line::from(vec![
                        label("limit"),
                        Span::raw(if l.hard { "hard" } else { "soft" }),
                    ]),
                ],
            }),
        }
    }

    fn keys(&self) -> &'static [KeyHelp] {
        &[
            KeyHelp {
                keys: "a",
                short: "approve",
                what: "approve the budget decision (asks first)",
            },
            KeyHelp {
                keys: "x",
                short: "deny",
                what: "deny the budget decision (asks why)",
            },
        ]
    }

    fn on_key(&self, state: &AppState, row: Option<usize>, key: &KeyEvent) -> Option<Reaction> {
        let Item::Pending(p) = item(&state.snapshot, row?)? else {
            return None;
        };
        let overlay = match key.code {
            KeyCode::Char('a') => Some(app::confirm(state, decide(p, Decision::Approve))),
            KeyCode::Char('x') => Some(Overlay::Prompt {
                title: format!("Deny #{}", p.approval_id),
                label: "Why is it denied?".into(),
                input: String::new(),
                hint: None,
                then: decide(p, Decision::Reject),
            }),
            _ => None,
        };
        overlay.map(Reaction::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vivid_core::budget::model::{Basis, Rollover};
    use vivid_core::budget::read::AlertView;

    fn line(budget: i64, spent: i64, committed: i64, forecast: i64) -> LineStatus {
        LineStatus {
            id: 1,
            department: "marketing".into(),
            channel: Some("ads".into()),
            campaign: None,
            budget_cents: budget,
            spent_cents: spent,
            committed_cents: committed,
            expected_to_date_cents: 0,
            forecast_cents: forecast,
            utilization: (spent + committed) as f64 / budget as f64,
            forecast_utilization: forecast as f64 / budget as f64,
            alerts: vec![AlertView {
                basis: Basis::Forecast,
                threshold: 0.8,
            }],
            hard: false,
            paused: false,
            rollover: Rollover::None,
            pending_cents: None,
        }
    }

    fn board() -> Board {
        let now = crate::test_data::now();
        let mut over = line(1_200_000, 1_280_000, 0, 1_500_000);
        over.id = 2;
        over.alerts.push(AlertView {
            basis: Basis::Actual,
            threshold: 1.0,
        });
        Board {
            period: "2026-11".into(),
            day: 12,
            days: 30,
            pending: vec![Pending {
                approval_id: 41,
                kind: "review".into(),
                subject_id: 3,
                title: "Spend review #3: marketing/ads (2026-11) over budget".into(),
                status: "pending".into(),
                requested_by: "maya".into(),
                deadline: now + chrono::TimeDelta::hours(20),
                eligible_roles: vec!["director:finance".into()],
                inputs: None,
            }],
            lines: vec![line(3_000_000, 1_450_000, 0, 3_625_000), over],
        }
    }

    #[test]
    fn budget_screen() {
        let mut snap = crate::test_data::snapshot();
        snap.set(board());
        let mut state = crate::test_data::state_with(100, 30, snap);
        state.tab = super::super::position("budget").unwrap_or_default();
        let backend = ratatui::backend::TestBackend::new(100, 30);
        let mut terminal = ratatui::Terminal::new(backend).unwrap_or_else(|e| panic!("{e}"));
        terminal
            .draw(|f| crate::view::view(&state, f))
            .unwrap_or_else(|e| panic!("{e}"));
        let text = terminal.backend().to_string();
        assert!(text.contains("Spend review #3"), "{text}");
        assert!(text.contains("$30,000.00"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn the_gauge_shows_spent_committed_and_forecast_against_the_budget() {
        assert_eq!(gauge(&line(1000, 500, 0, 600), 10), "█████░    ");
        assert_eq!(gauge(&line(1000, 200, 300, 900), 10), "██▒▒▒░░░░ ");
        assert_eq!(gauge(&line(1000, 1200, 0, 1500), 10), "██████████!");
        assert_eq!(line_level(&line(1000, 1200, 0, 1500)), Level::Alert);
        assert_eq!(line_level(&line(1000, 100, 0, 900)), Level::Warn);
    }
}
