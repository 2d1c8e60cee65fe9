//! Events: the live event log, newest at the bottom, following new events.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row};
use std::sync::Arc;

use vivid_core::Ctx;
use vivid_core::engine::events::{self, Change, Event, Filter};

use super::list::{TableSpec, table_rows};
use super::{Detail, KeyHelp, Screen};
use crate::app::{AppState, ListView};
use crate::data::{self, BoxFuture, PartData};
use crate::format;
use crate::snapshot::{Level, Snapshot};
use crate::theme;

pub struct Events;

/// How many events the log keeps in memory.
pub const EVENT_TAIL: usize = 2_000;

/// Ids are handed out before commit, so an event can become visible after
/// one with a larger id; re-reading this many ids back catches it.
const LATE_COMMIT_WINDOW: i64 = 200;

/// The screen's part: the tail of the event log, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Log {
    pub events: Vec<Event>,
}

/// The events on screen.
pub fn log(snap: &Snapshot) -> &[Event] {
    snap.get::<Log>()
        .map(|l| l.events.as_slice())
        .unwrap_or(&[])
}

/// Reads the newest events at first, then only those after the last one read.
struct Part;

impl data::Part for Part {
    fn concerns(&self, change: &Change) -> bool {
        change.id.is_some()
    }

    fn load<'a>(
        &'a self,
        ctx: &'a Ctx,
        _operator: &'a str,
        previous: Option<PartData>,
        _changes: &'a [Change],
    ) -> BoxFuture<'a, vivid_core::Result<PartData>> {
        Box::pin(async move {
            let limit = i64::try_from(EVENT_TAIL).unwrap_or(i64::MAX);
            let mut conn = ctx.pool.acquire().await?;
            let Some(mut log) = data::previous::<Log>(previous) else {
                let events = events::list(
                    &mut conn,
                    &Filter {
                        limit,
                        ..Filter::default()
                    },
                )
                .await?;
                return Ok(Arc::new(Log { events }) as PartData);
            };
            let mut after = log
                .events
                .last()
                .map(|e| e.id)
                .unwrap_or(0)
                .saturating_sub(LATE_COMMIT_WINDOW);
            loop {
                let batch = events::list(
                    &mut conn,
                    &Filter {
                        after_id: Some(after),
                        limit,
                        ..Filter::default()
                    },
                )
                .await?;
                let full = batch.len() == EVENT_TAIL;
                if let Some(e) = batch.last() {
                    after = e.id;
                }
                for e in batch {
                    // In id order, once.
                    if let Err(at) = log.events.binary_search_by_key(&e.id, |x| x.id) {
                        log.events.insert(at, e);
                    }
                }
                if !full {
                    break;
                }
            }
            let excess = log.events.len().saturating_sub(EVENT_TAIL);
            log.events.drain(..excess);
            Ok(Arc::new(log) as PartData)
        })
    }
}

/// Below this width the change and reason columns are left out.
const WIDE: u16 = 110;

/// Actions that deserve the eye.
fn level(action: &str) -> Level {
    if ["failed", "dead", "exhausted"]
        .iter()
        .any(|w| action.contains(w))
    {
        Level::Alert
    } else if action.contains("escalat") || action.contains("overdue") {
        Level::Warn
    } else {
        Level::Normal
    }
}

fn transition(e: &Event) -> String {
    match (&e.from_state, &e.to_state) {
        (Some(f), Some(t)) => format!("{f} → {t}"),
        (None, Some(t)) => format!("→ {t}"),
        (Some(f), None) => format!("{f} →"),
        (None, None) => String::new(),
    }
}

fn matches(e: &Event, filter: &str) -> bool {
    [
        &e.workflow,
        &e.entity_type,
        &e.entity_id,
        &e.action,
        &e.actor,
    ]
    .iter()
    .any(|f| f.to_lowercase().contains(filter))
        || e.reason
            .as_ref()
            .is_some_and(|r| r.to_lowercase().contains(filter))
        || format!("#{}", e.id).contains(filter)
}

impl Screen for Events {
    fn id(&self) -> &'static str {
        "events"
    }

    fn title(&self) -> &'static str {
        "Events"
    }

    fn short_title(&self) -> &'static str {
        "Log"
    }

    fn matching(&self, snap: &Snapshot, filter: &str) -> Vec<usize> {
        log(snap)
            .iter()
            .enumerate()
            .filter(|(_, e)| filter.is_empty() || matches(e, filter))
            .map(|(i, _)| i)
            .collect()
    }

    fn row_id(&self, snap: &Snapshot, row: usize) -> Option<i64> {
        log(snap).get(row).map(|e| e.id)
    }

    fn part(&self) -> Option<&'static dyn data::Part> {
        Some(&Part)
    }

    fn follows(&self) -> bool {
        true
    }

    fn render(&self, state: &AppState, list: &ListView, frame: &mut Frame, body: Rect) {
        let snap = &state.snapshot;
        let wide = body.width >= WIDE;
        let mut header = vec!["#", "Time", "Workflow", "Entity", "Action", "Actor"];
        let mut widths = vec![
            Constraint::Length(7),
            Constraint::Length(11),
            Constraint::Length(10),
            Constraint::Length(18),
            Constraint::Fill(1),
            Constraint::Length(10),
        ];
        if wide {
            header.extend(["Change", "Reason"]);
            widths.extend([Constraint::Length(24), Constraint::Fill(1)]);
        }
        let title = if list.follow {
            Line::from(vec![
                Span::styled(" Event log ", theme::bold()),
                Span::styled("· following ", theme::accent()),
            ])
        } else {
            Line::styled(" Event log ", theme::bold())
        };
        let spec = TableSpec {
            title,
            header: Row::new(header),
            widths,
            empty: if list.filter.is_empty() {
                "No events yet.".into()
            } else {
                format!("No event matches “{}”.", list.filter)
            },
        };
        table_rows(frame, body, list, spec, |i| {
            let Some(e) = log(snap).get(i) else {
                return Row::default();
            };
            let mut cells = vec![
                Cell::from(Span::styled(format!("#{}", e.id), theme::muted())),
                Cell::from(format::when(e.occurred_at, state.now)),
                Cell::from(e.workflow.clone()),
                Cell::from(format!("{} {}", e.entity_type, e.entity_id)),
                Cell::from(Span::styled(
                    e.action.clone(),
                    theme::level(level(&e.action)),
                )),
                Cell::from(format!("@{}", e.actor)),
            ];
            if wide {
                cells.push(Cell::from(transition(e)));
                cells.push(Cell::from(Span::styled(
                    e.reason.clone().unwrap_or_default(),
                    theme::muted(),
                )));
            }
            Row::new(cells)
        });
    }

    fn detail(&self, state: &AppState, row: usize) -> Option<Detail> {
        let e = log(&state.snapshot).get(row)?;
        let label = |s: &str| Span::styled(format!("{s:<10}"), theme::muted());
        let mut lines = vec![
            Line::from(vec![label("event"), Span::raw(format!("#{}", e.id))]),
            Line::from(vec![
                label("at"),
                Span::raw(format::timestamp(e.occurred_at)),
            ]),
            Line::from(vec![label("workflow"), Span::raw(e.workflow.clone())]),
            Line::from(vec![
                label("entity"),
                Span::raw(format!("{} {}", e.entity_type, e.entity_id)),
            ]),
            Line::from(vec![
                label("action"),
                Span::styled(e.action.clone(), theme::level(level(&e.action))),
            ]),
            Line::from(vec![label("actor"), Span::raw(format!("@{}", e.actor))]),
        ];
        let change = transition(e);
        if !change.is_empty() {
            lines.push(Line::from(vec![label("change"), Span::raw(change)]));
        }
        if let Some(reason) = &e.reason {
            lines.push(Line::from(vec![label("reason"), Span::raw(reason.clone())]));
        }
        if e.payload.as_object().is_none_or(|o| !o.is_empty()) {
            lines.push(Line::default());
            lines.push(Line::styled("Payload", theme::bold()));
            let pretty = serde_json::to_string_pretty(&e.payload).unwrap_or_default();
            lines.extend(pretty.lines().map(|l| Line::raw(format!("  {l}"))));
        }
        Some(Detail {
            title: format!("{} · {}", e.workflow, e.action),
            lines,
        })
    }

    fn keys(&self) -> &'static [KeyHelp] {
        &[KeyHelp {
            keys: "f",
            short: "follow",
            what: "follow new events on/off (G follows too)",
        }]
    }
}
