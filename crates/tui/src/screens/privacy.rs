//! Privacy: the clocks of compliance. Open data-subject requests with their
//! due date counting down, then open breaches with the 72-hour deadline to
//! notify the authority. Read-only: acting stays with `vivid privacy`.

use chrono::{DateTime, TimeDelta, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row};
use std::sync::Arc;

use vivid_core::Ctx;
use vivid_core::engine::events::Change;
use vivid_core::privacy::store::{Breach, Request};

use super::list::{TableSpec, table_rows};
use super::{Detail, Screen};
use crate::app::{AppState, ListView};
use crate::data::{self, BoxFuture, PartData};
use crate::format;
use crate::snapshot::{Level, Snapshot};
use crate::theme;

pub struct Privacy;

/// The screen's part: open data-subject requests (soonest due first) and
/// breaches not yet closed (soonest notification deadline first).
#[derive(Debug, Clone, Default)]
pub struct Clocks {
    pub requests: Vec<Request>,
    pub breaches: Vec<Breach>,
}

fn clocks(snap: &Snapshot) -> (&[Request], &[Breach]) {
    snap.get::<Clocks>()
        .map(|c| (c.requests.as_slice(), c.breaches.as_slice()))
        .unwrap_or((&[], &[]))
}

/// Reads the open requests and breaches (a few rows) when privacy changes.
struct Part;

impl data::Part for Part {
    fn concerns(&self, change: &Change) -> bool {
        change.workflow == vivid_core::privacy::WORKFLOW
    }

    fn load<'a>(
        &'a self,
        ctx: &'a Ctx,
        _operator: &'a str,
        _previous: Option<PartData>,
        _changes: &'a [Change],
    ) -> BoxFuture<'a, vivid_core::Result<PartData>> {
        Box::pin(async move {
            let requests = vivid_core::privacy::read::requests(ctx, true).await?;
            let breaches = vivid_core::privacy::read::breaches(ctx, true).await?;
            Ok(Arc::new(Clocks { requests, breaches }) as PartData)
        })
    }
}

/// A request due within this is flagged.
const REQUEST_WARN: TimeDelta = TimeDelta::days(3);

/// One row of the list: requests first, then breaches.
enum Item<'a> {
    Request(&'a Request),
    Breach(&'a Breach),
}

fn item(snap: &Snapshot, row: usize) -> Option<Item<'_>> {
    let (requests, breaches) = clocks(snap);
    let n = requests.len();
    if row < n {
        requests.get(row).map(Item::Request)
    } else {
        breaches.get(row - n).map(Item::Breach)
    }
}

fn rows(snap: &Snapshot) -> usize {
    let (requests, breaches) = clocks(snap);
    requests.len() + breaches.len()
}

pub fn request_level(r: &Request, now: DateTime<Utc>) -> Level {
    let left = r.due_at - now;
    if left < TimeDelta::zero() {
        Level::Alert
    } else if left <= REQUEST_WARN {
        Level::Warn
    } else {
        Level::Normal
    }
}

/// The notification clock still runs: not notified, not exempt.
fn clock_runs(b: &Breach) -> bool {
    b.notified_at.is_none() && b.status == "assessing"
}

pub fn breach_level(b: &Breach, now: DateTime<Utc>) -> Level {
    if clock_runs(b) && b.notify_by < now {
        Level::Alert
    } else {
        Level::Normal
    }
}

fn overdue(state: &AppState) -> usize {
    let (requests, breaches) = clocks(&state.snapshot);
    requests
        .iter()
        .filter(|r| request_level(r, state.now) == Level::Alert)
        .count()
        + breaches
            .iter()
            .filter(|b| breach_level(b, state.now) == Level::Alert)
            .count()
}

fn matches(it: &Item, filter: &str) -> bool {
    match it {
        Item::Request(r) => {
            [&r.subject_ref, &r.kind, &r.status, &r.opened_by, &r.note]
                .iter()
                .any(|f| f.to_lowercase().contains(filter))
                || "request dsar".contains(filter)
                || format!("#{}", r.id).contains(filter)
        }
        Item::Breach(b) => {
            [&b.title, &b.status, &b.opened_by]
                .iter()
                .any(|f| f.to_lowercase().contains(filter))
                || "breach".contains(filter)
                || format!("#{}", b.id).contains(filter)
        }
    }
}

/// The clock cell: a countdown, or why there is none.
fn clock(it: &Item, now: DateTime<Utc>) -> Span<'static> {
    match it {
        Item::Request(r) => Span::styled(
            format::countdown(r.due_at - now),
            theme::level(request_level(r, now)),
        ),
        Item::Breach(b) if clock_runs(b) => Span::styled(
            format::countdown(b.notify_by - now),
            theme::level(breach_level(b, now)),
        ),
        Item::Breach(b) => match b.on_time() {
            Some(true) => Span::styled("notified", theme::good()),
            Some(false) => Span::styled("notified late", theme::error()),
            None => Span::styled(b.status.clone(), theme::muted()),
        },
    }
}

impl Screen for Privacy {
    fn id(&self) -> &'static str {
        "privacy"
    }

    fn part(&self) -> Option<&'static dyn data::Part> {
        Some(&Part)
    }

    fn title(&self) -> &'static str {
        "Privacy"
    }

    fn short_title(&self) -> &'static str {
        "Priv"
    }

    fn badge(&self, state: &AppState) -> Option<(String, Level)> {
        let n = overdue(state);
        (n > 0).then(|| (n.to_string(), Level::Alert))
    }

    fn matching(&self, snap: &Snapshot, filter: &str) -> Vec<usize> {
        (0..rows(snap))
            .filter(|&i| filter.is_empty() || item(snap, i).is_some_and(|it| matches(&it, filter)))
            .collect()
    }

    fn row_id(&self, snap: &Snapshot, row: usize) -> Option<i64> {
        // Breaches negative, so a request and a breach never share an id.
        item(snap, row).map(|it| match it {
            Item::Request(r) => r.id,
            Item::Breach(b) => -b.id,
        })
    }

    fn render(&self, state: &AppState, list: &ListView, frame: &mut Frame, body: Rect) {
        let snap = &state.snapshot;
        let n = overdue(state);
        let mut title = vec![Span::styled(" Compliance clocks ", theme::bold())];
        title.push(Span::styled(
            format!(
                "{} requests · {} breaches ",
                clocks(snap).0.len(),
                clocks(snap).1.len()
            ),
            theme::muted(),
        ));
        if n > 0 {
            title.push(Span::styled(format!("· {n} overdue "), theme::error()));
        }
        let spec = TableSpec {
            title: Line::from(title),
            header: Row::new(["#", "What", "Subject / breach", "Status", "Clock"]),
            widths: vec![
                Constraint::Length(5),
                Constraint::Length(18),
                Constraint::Fill(1),
                Constraint::Length(9),
                Constraint::Length(16),
            ],
            empty: if list.filter.is_empty() {
                "No open requests or breaches.".into()
            } else {
                format!("Nothing matches “{}”.", list.filter)
            },
        };
        table_rows(frame, body, list, spec, |i| {
            let Some(it) = item(snap, i) else {
                return Row::default();
            };
            let clock = clock(&it, state.now);
            let (id, what, who, status) = match &it {
                Item::Request(r) => (
                    r.id,
                    format!("DSAR {}", r.kind),
                    r.subject_ref.clone(),
                    &r.status,
                ),
                Item::Breach(b) => (b.id, "breach (72h)".to_string(), b.title.clone(), &b.status),
            };
            Row::new(vec![
                Cell::from(Span::styled(format!("#{id}"), theme::muted())),
                Cell::from(what),
                Cell::from(who),
                Cell::from(status.clone()),
                Cell::from(clock),
            ])
        });
    }

    fn detail(&self, state: &AppState, row: usize) -> Option<Detail> {
        let label = |s: &str| Span::styled(format!("{s:<12}"), theme::muted());
        let at = |t: DateTime<Utc>| Span::raw(format::timestamp(t));
        let it = item(&state.snapshot, row)?;
        let clock = clock(&it, state.now);
        match it {
            Item::Request(r) => {
                let mut lines = vec![
                    Line::from(vec![
                        label("request"),
                        Span::raw(format!("#{} · {} · {}", r.id, r.kind, r.status)),
                    ]),
                    Line::from(vec![label("subject"), Span::raw(r.subject_ref.clone())]),
                    Line::from(vec![label("received"), at(r.received_at)]),
                    Line::from(vec![label("due"), at(r.due_at), Span::raw(" "), clock]),
                ];
                if r.extended_months > 0 {
                    lines.push(Line::from(vec![
                        label("extended"),
                        Span::raw(format!(
                            "{} month(s) from {}: {}",
                            r.extended_months,
                            format::timestamp(r.first_due_at),
                            r.extension_reason.clone().unwrap_or_default()
                        )),
                    ]));
                }
                lines.push(Line::from(vec![
                    label("opened by"),
                    Span::raw(format!("@{}", r.opened_by)),
                ]));
                if !r.note.is_empty() {
                    lines.push(Line::from(vec![label("note"), Span::raw(r.note.clone())]));
                }
                Some(Detail {
                    title: format!("Request #{} · {}", r.id, r.subject_ref),
                    lines,
                })
            }
            Item::Breach(b) => {
                let mut lines = vec![
                    Line::from(vec![
                        label("breach"),
                        Span::raw(format!(
                            "#{} · {} · incident #{}",
                            b.id, b.status, b.incident_id
                        )),
                    ]),
                    Line::from(vec![label("aware"), at(b.aware_at)]),
                    Line::from(vec![
                        label("notify by"),
                        at(b.notify_by),
                        Span::raw(" "),
                        clock,
                    ]),
                ];
                if let Some(n) = b.notified_at {
                    let by = b.notified_by.as_deref().map(|h| format!(" by @{h}"));
                    lines.push(Line::from(vec![
                        label("notified"),
                        at(n),
                        Span::raw(by.unwrap_or_default()),
                    ]));
                }
                let approx = |v: Option<i64>| v.map_or("unknown".to_string(), |n| format!("~{n}"));
                lines.push(Line::from(vec![
                    label("affected"),
                    Span::raw(format!(
                        "{} people, {} records",
                        approx(b.people_approx),
                        approx(b.records_approx)
                    )),
                ]));
                if let Some(n) = &b.nature {
                    lines.push(Line::from(vec![label("nature"), Span::raw(n.clone())]));
                }
                Some(Detail {
                    title: format!("Breach #{} · {}", b.id, b.title),
                    lines,
                })
            }
        }
    }
}
