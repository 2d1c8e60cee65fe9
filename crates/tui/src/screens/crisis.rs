//! Crisis: the incident board, most urgent first, with the acknowledgement
//! deadline and the phase's time box counting down each second. The
//! operator opens (`n`), acknowledges (`a`, at once: it is safe to
//! repeat), advances the phase (`p`), notes (`m`), changes the severity
//! (`s`), hands over command (`c`), posts status updates (`u`/`U`),
//! resolves (`R`, with a note) and escalates (`e`), all through the same
//! core services as the CLI and the bot.

use chrono::TimeDelta;
use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row};
use std::sync::Arc;

use vivid_core::Ctx;
use vivid_core::crisis::read::{self as board, BoardRow, EscalationProgress, IncidentClock};
use vivid_core::crisis::{Phase, Severity, Status};
use vivid_core::engine::events::{Change, Event};

use super::list::{TableSpec, table_rows};
use super::{Detail, KeyHelp, Reaction, Screen};
use crate::app::{self, Action, AppState, CrisisCmd, CrisisOp, ListView, Overlay};
use crate::data::{self, BoxFuture, PartData};
use crate::format;
use crate::snapshot::{Level, Snapshot};
use crate::theme;

pub struct Crisis;

/// An incident on the board, with the clocks core computes for it.
pub type IncidentRow = BoardRow;

/// The screen's part: the board, most urgent first.
#[derive(Debug, Clone, Default)]
pub struct Board {
    pub rows: Vec<BoardRow>,
}

/// The incidents on screen.
pub fn incidents(snap: &Snapshot) -> &[BoardRow] {
    snap.get::<Board>()
        .map(|b| b.rows.as_slice())
        .unwrap_or(&[])
}

/// Reads the board once (two queries), then only the incidents a change
/// names (two queries however many).
struct Part;

impl data::Part for Part {
    fn concerns(&self, change: &Change) -> bool {
        change.workflow == vivid_core::crisis::WORKFLOW
    }

    fn load<'a>(
        &'a self,
        ctx: &'a Ctx,
        _operator: &'a str,
        previous: Option<PartData>,
        changes: &'a [Change],
    ) -> BoxFuture<'a, vivid_core::Result<PartData>> {
        Box::pin(async move {
            let mut conn = ctx.pool.acquire().await?;
            let rows = match data::previous::<Board>(previous) {
                None => board::board(ctx, &mut conn, None).await?,
                Some(Board { mut rows }) => {
                    let ids = vivid_core::refresh::numeric_ids(
                        changes.iter().map(|c| c.entity_id.as_str()),
                    );
                    board::refresh_board(ctx, &mut conn, &mut rows, &ids).await?;
                    rows
                }
            };
            Ok(Arc::new(Board { rows }) as PartData)
        })
    }
}

/// From this width the board shows full status and phase names.
const WIDE: u16 = 120;
/// Below this width the two clocks share one column (the more urgent one).
const MID: u16 = 100;
/// A clock this close to running out is a warning.
const WARN_WITHIN: TimeDelta = TimeDelta::minutes(5);

fn clock_level(left: TimeDelta) -> Level {
    if left < TimeDelta::zero() {
        Level::Alert
    } else if left < WARN_WITHIN {
        Level::Warn
    } else {
        Level::Normal
    }
}

fn clock_span(left: Option<TimeDelta>) -> Span<'static> {
    match left {
        Some(l) => Span::styled(format::clock(l), theme::level(clock_level(l))),
        None => Span::styled("—", theme::muted()),
    }
}

fn short_phase(phase: Phase) -> &'static str {
    match phase {
        Phase::Detection => "Detection",
        Phase::Triage => "Triage",
        Phase::InternalComms => "Int. comms",
        Phase::CustomerComms => "Cust. comms",
        Phase::ImplementFix => "Fix",
        Phase::FollowUp => "Follow-up",
        Phase::PostMortem => "Post-mortem",
        Phase::UpdateProtocols => "Protocols",
    }
}

fn short_status(status: Status) -> &'static str {
    match status {
        Status::Triggered => "trig",
        Status::Acknowledged => "ack",
        Status::Resolved => "res",
        Status::Closed => "closed",
    }
}

fn status_style(row: &IncidentRow, now: chrono::DateTime<chrono::Utc>) -> Style {
    match row.status() {
        Status::Triggered => {
            let late = row.ack_left(now).is_some_and(|l| l < TimeDelta::zero());
            theme::level(if late { Level::Alert } else { Level::Warn })
        }
        Status::Resolved => theme::good(),
        Status::Closed => theme::muted(),
        Status::Acknowledged => Style::default(),
    }
}

fn escalation_span(e: Option<&EscalationProgress>) -> Span<'static> {
    let Some(e) = e else {
        return Span::styled("—", theme::muted());
    };
    let style = match e.status.as_str() {
        "exhausted" => theme::error(),
        "active" if e.reached >= 2 => theme::level(Level::Warn),
        "active" => Style::default(),
        _ => theme::muted(),
    };
    Span::styled(format!("L{}/{}", e.reached.max(0), e.levels), style)
}

fn handle(h: Option<&str>) -> String {
    h.map(|h| format!("@{h}")).unwrap_or_else(|| "—".into())
}

/// Who holds the incident: its latest acknowledger (a hand-over moves it).
fn holder(inc: &vivid_core::crisis::store::Incident) -> Option<&str> {
    inc.responder.as_deref().or(inc
        .acknowledged_by
        .as_deref()
        .filter(|_| inc.status != Status::Triggered))
}

fn matches(row: &IncidentRow, filter: &str) -> bool {
    let i = &row.incident;
    // People show as @handle: "@kai" finds them too.
    let person = filter.strip_prefix('@').unwrap_or(filter);
    [&i.acknowledged_by, &i.responder, &i.commander]
        .into_iter()
        .flatten()
        .any(|h| h.to_lowercase().contains(person))
        || [
            i.title.as_str(),
            i.severity.as_str(),
            i.status.as_str(),
            i.phase.key(),
        ]
        .into_iter()
        .chain(i.departments.iter().map(String::as_str))
        .any(|f| f.to_lowercase().contains(filter))
        || row.phase().label().to_lowercase().contains(filter)
        || format!("#{}", i.id).contains(filter)
}

fn command(row: &IncidentRow, op: CrisisOp) -> Action {
    Action::Crisis(CrisisCmd {
        id: row.incident.id,
        title: row.incident.title.clone(),
        op,
    })
}

/// The most alarming thing on the board: a missed acknowledgement or an
/// open P1 is an alert; anything still triggered is a warning.
fn worst(state: &AppState) -> Level {
    let mut level = Level::Normal;
    for row in incidents(&state.snapshot).iter().filter(|r| r.is_open()) {
        let late = row
            .ack_left(state.now)
            .is_some_and(|l| l < TimeDelta::zero());
        if late || row.severity() == Severity::P1 {
            return Level::Alert;
        }
        if row.status() == Status::Triggered {
            level = Level::Warn;
        }
    }
    level
}

fn timeline_line(e: &Event, action_w: usize, now: chrono::DateTime<chrono::Utc>) -> Line<'static> {
    let change = board::change_text(e)
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    let mut spans = vec![
        Span::styled(
            format!("  {:<12}", format::when(e.occurred_at, now)),
            theme::muted(),
        ),
        Span::raw(format!("{:<action_w$}", e.action.replace('_', " "))),
        Span::raw(format!("@{:<8}", e.actor)),
        Span::styled(change, theme::muted()),
    ];
    if let Some(reason) = &e.reason {
        spans.push(Span::raw(format!("  “{reason}”")));
    }
    Line::from(spans)
}

impl Screen for Crisis {
    fn id(&self) -> &'static str {
        "crisis"
    }

    fn part(&self) -> Option<&'static dyn data::Part> {
        Some(&Part)
    }

    fn title(&self) -> &'static str {
        "Crisis"
    }

    fn badge(&self, state: &AppState) -> Option<(String, Level)> {
        let open = incidents(&state.snapshot)
            .iter()
            .filter(|r| r.is_open())
            .count();
        (open > 0).then(|| (open.to_string(), worst(state)))
    }

    fn matching(&self, snap: &Snapshot, filter: &str) -> Vec<usize> {
        incidents(snap)
            .iter()
            .enumerate()
            .filter(|(_, r)| filter.is_empty() || matches(r, filter))
            .map(|(i, _)| i)
            .collect()
    }

    fn row_id(&self, snap: &Snapshot, row: usize) -> Option<i64> {
        incidents(snap).get(row).map(|r| r.incident.id)
    }

    fn render(&self, state: &AppState, list: &ListView, frame: &mut Frame, body: Rect) {
        let snap = &state.snapshot;
        let now = state.now;
        let wide = body.width >= WIDE;
        let mid = body.width >= MID;
        let mut header = vec!["Sev", "#", "Status"];
        let mut widths = vec![
            Constraint::Length(3),
            Constraint::Length(6),
            Constraint::Length(if wide { 12 } else { 6 }),
        ];
        if mid {
            header.push("Age");
            widths.push(Constraint::Length(7));
        }
        header.extend(["Ack by", "Esc", "Phase"]);
        widths.extend([
            Constraint::Length(if mid { 8 } else { 7 }),
            Constraint::Length(4),
            Constraint::Length(if wide { 17 } else { 11 }),
        ]);
        if mid {
            header.extend(["Box", "Ack due"]);
            widths.extend([Constraint::Length(9), Constraint::Length(9)]);
        } else {
            header.push("Clock");
            widths.push(Constraint::Length(13));
        }
        header.push("Title");
        widths.push(Constraint::Fill(1));
        let spec = TableSpec {
            title: Line::styled(" Incidents · most urgent first ", theme::bold()),
            header: Row::new(header),
            widths,
            empty: if list.filter.is_empty() {
                "No open incidents.".into()
            } else {
                format!("No incident matches “{}”.", list.filter)
            },
        };
        table_rows(frame, body, list, spec, |i| {
            let Some(row) = incidents(snap).get(i) else {
                return Row::default();
            };
            let inc = &row.incident;
            let severity = row.severity();
            let status = row.status();
            let mut cells = vec![
                Cell::from(Span::styled(
                    inc.severity.as_str(),
                    theme::severity(Some(severity)),
                )),
                Cell::from(Span::styled(format!("#{}", inc.id), theme::muted())),
                Cell::from(Span::styled(
                    if wide {
                        inc.status.as_str()
                    } else {
                        short_status(status)
                    },
                    status_style(row, now),
                )),
            ];
            if mid {
                cells.push(Cell::from(format::age(now - inc.opened_at)));
            }
            let phase = if wide {
                row.phase().label()
            } else {
                short_phase(row.phase())
            };
            cells.extend([
                Cell::from(handle(holder(inc))),
                Cell::from(escalation_span(row.escalation.as_ref())),
                Cell::from(phase),
            ]);
            if mid {
                cells.push(Cell::from(clock_span(row.phase_left(now))));
                cells.push(Cell::from(clock_span(row.ack_left(now))));
            } else {
                // One column: the clock that matters now (core's rule).
                let (label, left) = match row.clock() {
                    IncidentClock::Ack(due) => ("ack ", Some(due - now)),
                    IncidentClock::PhaseBox(due) => ("box ", Some(due - now)),
                    IncidentClock::None => ("box ", None),
                };
                cells.push(Cell::from(Line::from(vec![
                    Span::styled(label, theme::muted()),
                    clock_span(left),
                ])));
            }
            let title_style = if severity == Severity::P1 && row.is_open() {
                theme::bold()
            } else {
                Style::default()
            };
            cells.push(Cell::from(Span::styled(inc.title.clone(), title_style)));
            Row::new(cells)
        });
    }

    fn detail(&self, state: &AppState, row: usize) -> Option<Detail> {
        let row = incidents(&state.snapshot).get(row)?;
        let inc = &row.incident;
        let now = state.now;
        let label = |s: &str| Span::styled(format!("{s:<13}"), theme::muted());
        let fetched = state.incident.as_ref().filter(|f| f.id == inc.id);
        let loaded = fetched.and_then(|f| f.result.as_ref().ok());
        let mut lines = vec![
            Line::from(vec![
                label("incident"),
                Span::styled(inc.severity.as_str(), theme::severity(Some(row.severity()))),
                Span::raw(format!(" #{} · ", inc.id)),
                Span::styled(inc.status.as_str(), status_style(row, now)),
                Span::raw(format!(" · {}", inc.departments.join(", "))),
            ]),
            Line::from(vec![
                label("opened"),
                Span::raw(format!(
                    "by @{} at {} ({} ago)",
                    inc.opened_by,
                    format::timestamp(inc.opened_at),
                    format::age(now - inc.opened_at)
                )),
            ]),
        ];
        let ack = match (&inc.acknowledged_by, inc.acknowledged_at, row.ack_left(now)) {
            (Some(by), Some(at), _) if inc.status != Status::Triggered => {
                match holder(inc).filter(|h| *h != by) {
                    Some(now_by) => vec![Span::raw(format!(
                        "held by @{now_by} (first @{by} at {})",
                        format::timestamp(at)
                    ))],
                    None => vec![Span::raw(format!("by @{by} at {}", format::timestamp(at)))],
                }
            }
            (_, _, Some(left)) => vec![
                Span::raw(format!(
                    "not yet · due {} ",
                    format::timestamp(inc.ack_deadline)
                )),
                Span::styled(format::countdown(left), theme::level(clock_level(left))),
            ],
            _ => vec![Span::styled("—", theme::muted())],
        };
        lines.push(Line::from([vec![label("acknowledged")], ack].concat()));
        let mut phase = vec![
            label("phase"),
            Span::raw(inc.phase.label()),
            Span::styled(
                format!(" since {}", format::when(inc.phase_started_at, now)),
                theme::muted(),
            ),
        ];
        if let Some(left) = row.phase_left(now) {
            phase.push(Span::raw(" · time box "));
            phase.push(clock_span(Some(left)));
            if left < TimeDelta::zero() {
                phase.push(Span::styled(" over", theme::error()));
            }
        }
        lines.push(Line::from(phase));
        // The fresh read has the ladder as it is now; the board's is a few seconds old.
        let escalation = loaded
            .and_then(|d| d.escalation.as_ref())
            .map(|e| EscalationProgress {
                reached: e.level + 1,
                levels: e.policy.levels.len(),
                status: e.status.clone(),
            })
            .or_else(|| row.escalation.clone());
        lines.push(Line::from(match &escalation {
            Some(e) => vec![
                label("escalation"),
                escalation_span(Some(e)),
                Span::styled(format!(" ({})", e.status), theme::muted()),
            ],
            None => vec![label("escalation"), Span::styled("none", theme::muted())],
        }));
        if let Some(d) = loaded.map(|d| &d.delivery) {
            lines.extend(delivery_lines(d, now));
        }
        let roles: Vec<String> = [
            ("commander", &inc.commander),
            ("scribe", &inc.scribe),
            ("liaison", &inc.liaison),
        ]
        .iter()
        .filter_map(|(r, h)| h.as_ref().map(|h| format!("{r} @{h}")))
        .collect();
        if !roles.is_empty() {
            lines.push(Line::from(vec![
                label("people"),
                Span::raw(roles.join(" · ")),
            ]));
        }
        if let (Some(by), Some(at)) = (&inc.resolved_by, inc.resolved_at) {
            lines.push(Line::from(vec![
                label("resolved"),
                Span::raw(format!("by @{by} at {}", format::timestamp(at))),
            ]));
        }
        if !inc.description.is_empty() {
            lines.push(Line::from(vec![
                label("description"),
                Span::raw(inc.description.clone()),
            ]));
        }
        lines.push(Line::default());
        lines.push(Line::styled("Timeline", theme::bold()));
        match fetched.map(|f| &f.result) {
            None => lines.push(Line::styled("  reading…", theme::muted())),
            Some(Err(e)) => lines.push(Line::styled(
                format!("  cannot read the timeline: {e}"),
                theme::error(),
            )),
            Some(Ok(d)) => {
                // As many of the latest events as fit on screen.
                let room = usize::from(state.size.height).saturating_sub(lines.len() + 8);
                let room = room.max(3);
                let skip = d.timeline.len().saturating_sub(room);
                if skip > 0 {
                    lines.push(Line::styled(
                        format!("  … {skip} earlier event(s)"),
                        theme::muted(),
                    ));
                }
                let shown = || d.timeline.iter().skip(skip);
                let action_w = shown().map(|e| e.action.chars().count()).max().unwrap_or(0) + 1;
                lines.extend(shown().map(|e| timeline_line(e, action_w.min(24), now)));
                if d.timeline.is_empty() {
                    lines.push(Line::styled("  no events", theme::muted()));
                }
            }
        }
        lines.push(Line::default());
        lines.push(Line::from(vec![
            Span::raw(format!("As @{}: ", state.operator)),
            Span::styled("a", theme::key()),
            Span::raw(" acknowledge · "),
            Span::styled("R", theme::key()),
            Span::raw(" resolve · "),
            Span::styled("e", theme::key()),
            Span::raw(" escalate · "),
            Span::styled("p", theme::key()),
            Span::raw(" next phase · "),
            Span::styled("?", theme::key()),
            Span::raw(" more"),
        ]));
        Some(Detail {
            title: format!("#{} {}", inc.id, inc.title),
            lines,
        })
    }

    fn load_detail(&self, snap: &Snapshot, row: usize) -> Option<Action> {
        incidents(snap)
            .get(row)
            .map(|r| Action::LoadIncident(r.incident.id))
    }

    fn keys(&self) -> &'static [KeyHelp] {
        &[
            KeyHelp {
                keys: "a",
                short: "ack",
                what: "acknowledge now (safe to repeat)",
            },
            KeyHelp {
                keys: "R",
                short: "resolve",
                what: "resolve (asks for a note, then confirms)",
            },
            KeyHelp {
                keys: "e",
                short: "escalate",
                what: "page the next level now (confirms)",
            },
            KeyHelp {
                keys: "n",
                short: "",
                what: "open an incident (“P1 title”, confirms)",
            },
            KeyHelp {
                keys: "p",
                short: "phase",
                what: "advance to the next phase (confirms)",
            },
            KeyHelp {
                keys: "m",
                short: "",
                what: "add a note to the timeline",
            },
            KeyHelp {
                keys: "s",
                short: "",
                what: "change the severity (“P2 why”)",
            },
            KeyHelp {
                keys: "c",
                short: "",
                what: "hand over command (“kai”)",
            },
            KeyHelp {
                keys: "u/U",
                short: "",
                what: "status update, internal / customer",
            },
        ]
    }

    fn on_key(&self, state: &AppState, row: Option<usize>, key: &KeyEvent) -> Option<Reaction> {
        if key.code == KeyCode::Char('n') {
            return Some(Reaction::Open(Overlay::Prompt {
                title: "Open an incident".into(),
                label: "Severity and title, e.g. “P1 Checkout fails”".into(),
                input: String::new(),
                hint: None,
                then: Action::Crisis(CrisisCmd {
                    id: 0,
                    title: String::new(),
                    op: CrisisOp::Open {
                        text: String::new(),
                    },
                }),
            }));
        }
        let row = incidents(&state.snapshot).get(row?)?;
        let prompt = |title: &str, label: &str, op: CrisisOp| {
            Some(Reaction::Open(Overlay::Prompt {
                title: format!("{title} #{}", row.incident.id),
                label: label.into(),
                input: String::new(),
                hint: None,
                then: command(row, op),
            }))
        };
        let text = String::new;
        match key.code {
            KeyCode::Char('p') => Some(Reaction::Open(app::confirm(
                state,
                command(row, CrisisOp::AdvancePhase),
            ))),
            KeyCode::Char('m') => prompt("Note on", "The note", CrisisOp::Note { text: text() }),
            KeyCode::Char('s') => prompt(
                "Severity of",
                "New severity and why, e.g. “P2 only EU customers”",
                CrisisOp::Severity { text: text() },
            ),
            KeyCode::Char('c') => prompt(
                "Command of",
                "Who takes command (handle), then an optional note",
                CrisisOp::Commander { text: text() },
            ),
            KeyCode::Char('u') => prompt(
                "Internal update on",
                "The update (next one due within the hour)",
                CrisisOp::Update {
                    text: text(),
                    customer: false,
                },
            ),
            KeyCode::Char('U') => prompt(
                "Customer update on",
                "The update for customers (next one due within the hour)",
                CrisisOp::Update {
                    text: text(),
                    customer: true,
                },
            ),
            // No confirmation: a second acknowledgement changes nothing.
            KeyCode::Char('a') => Some(Reaction::Act(command(row, CrisisOp::Acknowledge))),
            KeyCode::Char('R') => Some(Reaction::Open(Overlay::Prompt {
                title: format!("Resolve #{}", row.incident.id),
                label: "How was it resolved?".into(),
                input: String::new(),
                hint: None,
                then: command(
                    row,
                    CrisisOp::Resolve {
                        note: String::new(),
                    },
                ),
            })),
            KeyCode::Char('e') => Some(Reaction::Open(app::confirm(
                state,
                command(row, CrisisOp::Escalate),
            ))),
            _ => None,
        }
    }
}

/// Per escalation level: who was paged, by which method, delivered or not;
/// then what comes next. Nothing when nobody has been paged.
fn delivery_lines(
    d: &vivid_core::notify::read::Delivery,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let label = |s: &str| Span::styled(format!("{s:<13}"), theme::muted());
    for l in &d.levels {
        for (i, p) in l.pages.iter().enumerate() {
            let head = if i == 0 {
                label(&format!("paged L{}", l.level))
            } else {
                label("")
            };
            let state = match p.state.as_str() {
                "delivered" => Span::styled("delivered", theme::good()),
                "failed" => Span::styled("failed", theme::error()),
                other => Span::styled(other.to_string(), theme::muted()),
            };
            let mut spans = vec![
                head,
                Span::raw(format!("@{} {} ", p.person, p.method)),
                state,
                Span::styled(
                    format!(" {}", format::when(p.delivered_at.unwrap_or(p.due_at), now)),
                    theme::muted(),
                ),
            ];
            if p.state == "failed"
                && let Some(e) = &p.error
            {
                spans.push(Span::styled(format!(" · {e}"), theme::error()));
            }
            lines.push(Line::from(spans));
        }
    }
    if let Some(n) = d.next.first() {
        lines.push(Line::from(vec![
            label("next page"),
            Span::raw(format!("{} {}", n.what, format::when(n.at, now))),
        ]));
    }
    lines
}
