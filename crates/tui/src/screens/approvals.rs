//! Approvals: the pending queue with deadlines counting down; the operator
//! approves (`a`), requests changes (`c`) or rejects (`x`) through core.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row};
use vivid_core::Ctx;
use vivid_core::engine::approvals::{self, ApprovalRequest, Decision, DecisionRecord};
use vivid_core::engine::events::Change;

use super::list::{TableSpec, table_rows};
use super::{Detail, KeyHelp, Reaction, Screen};
use crate::app::{self, Action, AppState, DecideCmd, ListView, Overlay};
use crate::data::{self, BoxFuture, PartData};
use crate::format;
use crate::snapshot::{Level, Snapshot};
use crate::theme;

pub struct Approvals;

/// The screen's part: pending requests, soonest deadline first.
#[derive(Debug, Clone, Default)]
pub struct Pending {
    pub rows: Vec<ApprovalRow>,
}

/// A pending approval request with what has been decided so far.
#[derive(Debug, Clone)]
pub struct ApprovalRow {
    pub request: ApprovalRequest,
    pub decisions: Vec<DecisionRecord>,
    /// Whether the operator may decide it now (core's `may_decide`: a hint
    /// for the eye; core checks again when they act).
    pub operator_may_decide: bool,
}

impl ApprovalRow {
    pub fn approvals(&self) -> usize {
        self.decisions
            .iter()
            .filter(|d| d.decision == "approve")
            .count()
    }
}

/// The pending requests on screen.
pub fn rows(snap: &Snapshot) -> &[ApprovalRow] {
    snap.get::<Pending>()
        .map(|p| p.rows.as_slice())
        .unwrap_or(&[])
}

/// Reads the pending queue (two queries) whenever an approval changes.
struct Part;

impl data::Part for Part {
    fn concerns(&self, change: &Change) -> bool {
        change.entity_type == "approval"
    }

    fn load<'a>(
        &'a self,
        ctx: &'a Ctx,
        operator: &'a str,
        _previous: Option<PartData>,
        _changes: &'a [Change],
    ) -> BoxFuture<'a, vivid_core::Result<PartData>> {
        Box::pin(async move {
            let mut conn = ctx.pool.acquire().await?;
            let open = approvals::open_requests(&mut conn, None).await?;
            let me = ctx.org.person(operator);
            let rows = open
                .into_iter()
                .map(|o| ApprovalRow {
                    operator_may_decide: me.is_some_and(|p| {
                        approvals::may_decide(&ctx.org, p, &o.request, &o.decisions)
                    }),
                    request: o.request,
                    decisions: o.decisions,
                })
                .collect();
            Ok(std::sync::Arc::new(Pending { rows }) as PartData)
        })
    }
}

/// How urgent a deadline is at the state's clock.
fn urgency(state: &AppState, row: &ApprovalRow) -> Level {
    let left = approvals::time_left(&row.request, state.now);
    if left < chrono::TimeDelta::zero() {
        Level::Alert
    } else if left < state.warn_within {
        Level::Warn
    } else {
        Level::Normal
    }
}

/// At most this many lines of a body or a diff are drawn (the rest is
/// one command away), so a 1 MB body cannot stall the screen.
const REVIEW_LINES: usize = 400;

/// The text under review and its diff, once read (PgDn scrolls to them).
fn review_lines(state: &AppState, request_id: i64, lines: &mut Vec<Line<'static>>) {
    let Some(fetched) = state.review.as_ref().filter(|f| f.id == request_id) else {
        lines.push(Line::default());
        lines.push(Line::styled(
            "reading the text under review…",
            theme::muted(),
        ));
        return;
    };
    let review = match &fetched.result {
        Ok(review) => review,
        Err(why) => {
            lines.push(Line::default());
            lines.push(Line::styled(
                format!("The text could not be read: {why}"),
                theme::error(),
            ));
            return;
        }
    };
    let Some(review) = review.as_ref() else {
        return;
    };
    lines.push(Line::default());
    lines.push(Line::styled(
        format!("Text of version {} (PgDn to read on)", review.version),
        theme::bold(),
    ));
    push_capped(lines, &review.body, |l| Line::raw(format!("  {l}")));
    lines.push(Line::default());
    match review.base_version {
        None => lines.push(Line::styled(
            "First version: nothing to compare",
            theme::muted(),
        )),
        Some(base) => {
            lines.push(Line::styled(
                format!("Changes since version {base}"),
                theme::bold(),
            ));
            push_capped(lines, &review.diff, |l| {
                let style = if l.starts_with("+++") || l.starts_with("---") {
                    theme::muted()
                } else if l.starts_with('+') {
                    theme::good()
                } else if l.starts_with('-') {
                    theme::error()
                } else if l.starts_with("@@") {
                    theme::accent()
                } else {
                    ratatui::style::Style::default()
                };
                Line::styled(format!("  {l}"), style)
            });
        }
    }
}

/// Each line of `text` (made printable) as a line, at most [`REVIEW_LINES`].
fn push_capped(lines: &mut Vec<Line<'static>>, text: &str, line: impl Fn(&str) -> Line<'static>) {
    let text = vivid_core::text::printable(text, true).replace('\t', "    ");
    let total = text.lines().count();
    lines.extend(text.lines().take(REVIEW_LINES).map(&line));
    if total > REVIEW_LINES {
        lines.push(Line::styled(
            format!(
                "  … {} more lines (vivid content show)",
                total - REVIEW_LINES
            ),
            theme::muted(),
        ));
    }
}

fn decide(row: &ApprovalRow, decision: Decision) -> Action {
    Action::Decide(DecideCmd {
        request_id: row.request.id,
        version: row.request.subject_version,
        title: row.request.title.clone(),
        decision,
        comment: String::new(),
    })
}

impl Screen for Approvals {
    fn id(&self) -> &'static str {
        "approvals"
    }

    fn title(&self) -> &'static str {
        "Approvals"
    }

    fn short_title(&self) -> &'static str {
        "Appr"
    }

    fn part(&self) -> Option<&'static dyn data::Part> {
        Some(&Part)
    }

    fn badge(&self, state: &AppState) -> Option<(String, Level)> {
        let rows = rows(&state.snapshot);
        if rows.is_empty() {
            return None;
        }
        let worst = rows
            .iter()
            .map(|r| urgency(state, r))
            .max()
            .unwrap_or(Level::Normal);
        Some((rows.len().to_string(), worst))
    }

    fn matching(&self, snap: &Snapshot, filter: &str) -> Vec<usize> {
        rows(snap)
            .iter()
            .enumerate()
            .filter(|(_, row)| {
                let r = &row.request;
                filter.is_empty()
                    || [&r.title, &r.workflow, &r.requested_by, &r.entity_id]
                        .iter()
                        .any(|f| f.to_lowercase().contains(filter))
                    || format!("#{}", r.id).contains(filter)
            })
            .map(|(i, _)| i)
            .collect()
    }

    fn row_id(&self, snap: &Snapshot, row: usize) -> Option<i64> {
        rows(snap).get(row).map(|r| r.request.id)
    }

    fn render(&self, state: &AppState, list: &ListView, frame: &mut Frame, body: Rect) {
        let snap = &state.snapshot;
        let spec = TableSpec {
            title: Line::styled(" Pending approvals ", theme::bold()),
            header: Row::new(vec!["#", "", "Title", "Workflow", "By", "OK", "Deadline"]),
            widths: vec![
                Constraint::Length(5),
                Constraint::Length(1),
                Constraint::Fill(1),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(5),
                Constraint::Length(16),
            ],
            empty: if list.filter.is_empty() {
                "Nothing waiting for approval.".into()
            } else {
                format!("No pending approval matches “{}”.", list.filter)
            },
        };
        table_rows(frame, body, list, spec, |i| {
            let Some(row) = rows(snap).get(i) else {
                return Row::default();
            };
            let r = &row.request;
            let level = urgency(state, row);
            Row::new(vec![
                Cell::from(Span::styled(format!("#{}", r.id), theme::muted())),
                Cell::from(if row.operator_may_decide {
                    Span::styled("●", theme::accent())
                } else {
                    Span::raw(" ")
                }),
                Cell::from(r.title.clone()),
                Cell::from(r.workflow.clone()),
                Cell::from(format!("@{}", r.requested_by)),
                Cell::from(format!("{}/{}", row.approvals(), r.required)),
                Cell::from(Span::styled(
                    format::countdown(approvals::time_left(r, state.now)),
                    theme::level(level),
                )),
            ])
        });
    }

    fn detail(&self, state: &AppState, row: usize) -> Option<Detail> {
        let row = rows(&state.snapshot).get(row)?;
        let r = &row.request;
        let label = |s: &str| Span::styled(format!("{s:<13}"), theme::muted());
        let level = urgency(state, row);
        let mut lines = vec![
            Line::from(vec![
                label("request"),
                Span::raw(format!(
                    "#{} · {} {} · version {}",
                    r.id, r.workflow, r.entity_id, r.subject_version
                )),
            ]),
            Line::from(vec![
                label("requested by"),
                Span::raw(format!(
                    "@{} at {}",
                    r.requested_by,
                    format::timestamp(r.created_at)
                )),
            ]),
            Line::from(vec![
                label("deadline"),
                Span::raw(format!("{} ", format::timestamp(r.deadline))),
                Span::styled(
                    format!(
                        "({})",
                        format::countdown(approvals::time_left(r, state.now))
                    ),
                    theme::level(level),
                ),
            ]),
            Line::from(vec![
                label("needs"),
                Span::raw(format!(
                    "{} approval(s) from: {}",
                    r.required,
                    r.eligible_roles.join(", ")
                )),
            ]),
            Line::from(vec![
                label("so far"),
                Span::raw(format!("{} of {}", row.approvals(), r.required)),
            ]),
        ];
        if !r.must_include.is_empty() {
            lines.push(Line::from(vec![
                label("including"),
                Span::raw(format!("one from: {}", r.must_include.join(", "))),
            ]));
        }
        if !r.escalate_to.is_empty() {
            lines.push(Line::from(vec![
                label("re-routed to"),
                Span::styled(
                    format!(
                        "@{} (overdue: each may decide alone)",
                        r.escalate_to.join(", @")
                    ),
                    theme::level(Level::Warn),
                ),
            ]));
        }
        lines.push(Line::default());
        lines.push(Line::styled("Decisions", theme::bold()));
        if row.decisions.is_empty() {
            lines.push(Line::styled("  none yet", theme::muted()));
        }
        for d in &row.decisions {
            let style = match d.decision.as_str() {
                "approve" => theme::good(),
                "reject" => theme::error(),
                _ => theme::level(Level::Warn),
            };
            let mut line = vec![
                Span::raw("  "),
                Span::styled(format!("{:<16}", d.decision.replace('_', " ")), style),
                Span::raw(format!("@{:<10} ", d.approver)),
                Span::styled(format::when(d.decided_at, state.now), theme::muted()),
            ];
            if !d.comment.is_empty() {
                line.push(Span::raw(format!("  “{}”", d.comment)));
            }
            lines.push(Line::from(line));
        }
        lines.push(Line::default());
        lines.push(if row.operator_may_decide {
            Line::from(vec![
                Span::raw(format!("You (@{}) may decide: ", state.operator)),
                Span::styled("a", theme::key()),
                Span::raw(" approve · "),
                Span::styled("c", theme::key()),
                Span::raw(" request changes · "),
                Span::styled("x", theme::key()),
                Span::raw(" reject"),
            ])
        } else {
            Line::styled(
                format!(
                    "You (@{}) hold none of the roles that may decide, or have decided.",
                    state.operator
                ),
                theme::muted(),
            )
        });
        review_lines(state, r.id, &mut lines);
        Some(Detail {
            title: r.title.clone(),
            lines,
        })
    }

    fn load_detail(&self, snap: &Snapshot, row: usize) -> Option<Action> {
        rows(snap)
            .get(row)
            .map(|r| Action::LoadReview(r.request.id))
    }

    fn keys(&self) -> &'static [KeyHelp] {
        &[
            KeyHelp {
                keys: "a",
                short: "approve",
                what: "approve (asks first)",
            },
            KeyHelp {
                keys: "c",
                short: "changes",
                what: "request changes (asks for a comment)",
            },
            KeyHelp {
                keys: "x",
                short: "reject",
                what: "reject (asks for a comment)",
            },
        ]
    }

    fn on_key(&self, state: &AppState, row: Option<usize>, key: &KeyEvent) -> Option<Reaction> {
        let row = rows(&state.snapshot).get(row?)?;
        let overlay = match key.code {
            KeyCode::Char('a') => Some(app::confirm(state, decide(row, Decision::Approve))),
            KeyCode::Char('c') => Some(Overlay::Prompt {
                title: format!("Request changes on #{}", row.request.id),
                label: "What needs to change?".into(),
                input: String::new(),
                hint: None,
                then: decide(row, Decision::RequestChanges),
            }),
            KeyCode::Char('x') => Some(Overlay::Prompt {
                title: format!("Reject #{}", row.request.id),
                label: "Why is it rejected?".into(),
                input: String::new(),
                hint: None,
                then: decide(row, Decision::Reject),
            }),
            _ => None,
        };
        overlay.map(Reaction::Open)
    }
}
