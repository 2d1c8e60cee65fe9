//! Content: the pipeline (how many items in each state, in the seed's
//! order) above the items, with the approval deadline of those in review
//! counting down. Deciding stays on the Approvals screen.

use chrono::TimeDelta;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row};
use std::sync::Arc;

use vivid_core::Ctx;
use vivid_core::content::model::State;
use vivid_core::content::read::{self as pipeline, PipelineItem, Review, Stage};
use vivid_core::engine::events::Change;

use super::list::{TableSpec, table_rows};
use super::{Detail, Screen};
use crate::app::{AppState, ListView};
use crate::data::{self, BoxFuture, PartData};
use crate::format;
use crate::snapshot::{Level, Snapshot};
use crate::theme;

pub struct Content;

/// A content item with its review, as the pipeline shows it.
pub type ContentRow = PipelineItem;

/// The screen's part: the counts per state and the items in pipeline order.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    pub stages: Vec<Stage>,
    pub rows: Vec<PipelineItem>,
}

fn stages(snap: &Snapshot) -> &[Stage] {
    snap.get::<Pipeline>()
        .map(|p| p.stages.as_slice())
        .unwrap_or(&[])
}

/// The items on screen.
pub fn items(snap: &Snapshot) -> &[PipelineItem] {
    snap.get::<Pipeline>()
        .map(|p| p.rows.as_slice())
        .unwrap_or(&[])
}

/// Reads the pipeline once (four queries), then the counts and only the
/// items a change names.
struct Part;

impl data::Part for Part {
    fn concerns(&self, change: &Change) -> bool {
        change.workflow == vivid_core::content::WORKFLOW
    }

    fn load<'a>(
        &'a self,
        ctx: &'a Ctx,
        operator: &'a str,
        previous: Option<PartData>,
        changes: &'a [Change],
    ) -> BoxFuture<'a, vivid_core::Result<PartData>> {
        Box::pin(async move {
            let mut conn = ctx.pool.acquire().await?;
            let stages = pipeline::stages(&mut conn).await?;
            let rows = match data::previous::<Pipeline>(previous) {
                None => pipeline::pipeline(ctx, &mut conn, operator, None).await?,
                Some(Pipeline { mut rows, .. }) => {
                    let ids = vivid_core::refresh::numeric_ids(
                        changes.iter().map(|c| c.entity_id.as_str()),
                    );
                    pipeline::refresh_pipeline(ctx, &mut conn, operator, &mut rows, &ids).await?;
                    rows
                }
            };
            Ok(Arc::new(Pipeline { stages, rows }) as PartData)
        })
    }
}

const ARROW: &str = " › ";
/// Below this width the kind and campaign columns are left out.
const WIDE: u16 = 110;
/// Below this width columns narrow and the review clock is short.
const MID: u16 = 100;

fn review_level(state: &AppState, review: &Review) -> Level {
    let left = review.deadline - state.now;
    if left < TimeDelta::zero() || review.status == "escalated" {
        Level::Alert
    } else if left < state.warn_within {
        Level::Warn
    } else {
        Level::Normal
    }
}

fn overdue_reviews(state: &AppState) -> usize {
    items(&state.snapshot)
        .iter()
        .filter_map(|r| r.review.as_ref())
        .filter(|r| review_level(state, r) == Level::Alert)
        .count()
}

fn stage_text(s: &Stage) -> (String, String) {
    let count = if s.capped {
        format!("{}+", s.count)
    } else {
        s.count.to_string()
    };
    (s.state.label().to_string(), count)
}

/// The pipeline, wrapped onto as many lines as `width` needs; a stage is
/// never split.
fn pipeline_lines(state: &AppState, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let overdue = overdue_reviews(state);
    let mut lines: Vec<Line> = Vec::new();
    let mut line: Vec<Span> = Vec::new();
    let mut used = 0;
    for (i, stage) in stages(&state.snapshot).iter().enumerate() {
        let (label, count) = stage_text(stage);
        let arrow = if i + 1 < stages(&state.snapshot).len() {
            ARROW
        } else {
            ""
        };
        let w = label.chars().count() + 1 + count.chars().count() + arrow.chars().count();
        if used > 0 && used + w > width {
            lines.push(Line::from(std::mem::take(&mut line)));
            used = 0;
        }
        let count_style = if stage.count == 0 {
            theme::muted()
        } else if stage.state == State::Review && overdue > 0 {
            theme::error()
        } else {
            theme::bold()
        };
        line.push(Span::raw(format!("{label} ")));
        line.push(Span::styled(count, count_style));
        line.push(Span::styled(arrow, theme::muted()));
        used += w;
    }
    if !line.is_empty() {
        lines.push(Line::from(line));
    }
    lines
}

/// The pipeline box, then the list.
fn split(state: &AppState, body: Rect) -> (Rect, Rect) {
    if stages(&state.snapshot).is_empty() {
        return (Rect::default(), body);
    }
    let lines = pipeline_lines(state, body.width.saturating_sub(4)).len();
    let height = u16::try_from(lines + 2)
        .unwrap_or(u16::MAX)
        .min(body.height / 2);
    let [top, rest] =
        Layout::vertical([Constraint::Length(height), Constraint::Fill(1)]).areas(body);
    (top, rest)
}

fn matches(row: &ContentRow, filter: &str) -> bool {
    let i = &row.item;
    // Owners show as @handle: "@lena" finds them too.
    let person = filter.strip_prefix('@').unwrap_or(filter);
    i.owner.to_lowercase().contains(person)
        || [
            i.title.as_str(),
            i.channel.as_str(),
            i.state.as_str(),
            i.kind.as_str(),
        ]
        .into_iter()
        .chain(i.campaign.as_deref())
        .any(|f| f.to_lowercase().contains(filter))
        || format!("#{}", i.id).contains(filter)
}

fn state_label(row: &ContentRow) -> String {
    row.item.state.label().to_string()
}

impl Screen for Content {
    fn id(&self) -> &'static str {
        "content"
    }

    fn part(&self) -> Option<&'static dyn data::Part> {
        Some(&Part)
    }

    fn title(&self) -> &'static str {
        "Content"
    }

    fn badge(&self, state: &AppState) -> Option<(String, Level)> {
        let in_review = items(&state.snapshot)
            .iter()
            .filter(|r| r.review.is_some())
            .count();
        let level = if overdue_reviews(state) > 0 {
            Level::Alert
        } else {
            Level::Normal
        };
        (in_review > 0).then(|| (in_review.to_string(), level))
    }

    fn matching(&self, snap: &Snapshot, filter: &str) -> Vec<usize> {
        items(snap)
            .iter()
            .enumerate()
            .filter(|(_, r)| filter.is_empty() || matches(r, filter))
            .map(|(i, _)| i)
            .collect()
    }

    fn row_id(&self, snap: &Snapshot, row: usize) -> Option<i64> {
        items(snap).get(row).map(|r| r.item.id)
    }

    fn list_area(&self, state: &AppState, body: Rect) -> Rect {
        split(state, body).1
    }

    fn render(&self, state: &AppState, list: &ListView, frame: &mut Frame, body: Rect) {
        let snap = &state.snapshot;
        let (top, rest) = split(state, body);
        if !top.is_empty() {
            let block = Block::bordered()
                .title(Line::styled(" Pipeline ", theme::bold()))
                .border_style(theme::border())
                .padding(ratatui::widgets::Padding::horizontal(1));
            let inner = block.inner(top);
            frame.render_widget(block, top);
            frame.render_widget(Paragraph::new(pipeline_lines(state, inner.width)), inner);
        }
        let wide = rest.width >= WIDE;
        // Narrow: the review clock in its short form ("-40:00").
        let mid = rest.width >= MID;
        let mut header = vec!["#", "", "State", "v", "Owner", "Channel"];
        let mut widths = vec![
            Constraint::Length(5),
            Constraint::Length(1),
            Constraint::Length(12),
            Constraint::Length(3),
            Constraint::Length(if mid { 8 } else { 7 }),
            Constraint::Length(if mid { 10 } else { 9 }),
        ];
        if wide {
            header.extend(["Kind", "Campaign"]);
            widths.extend([Constraint::Length(12), Constraint::Length(14)]);
        }
        header.extend(["Title", "Review due"]);
        widths.extend([
            Constraint::Fill(1),
            Constraint::Length(if mid { 20 } else { 11 }),
        ]);
        let spec = TableSpec {
            title: Line::styled(" Content items ", theme::bold()),
            header: Row::new(header),
            widths,
            empty: if list.filter.is_empty() {
                "No content yet.".into()
            } else {
                format!("No content item matches “{}”.", list.filter)
            },
        };
        table_rows(frame, rest, list, spec, |i| {
            let Some(row) = items(snap).get(i) else {
                return Row::default();
            };
            let item = &row.item;
            let mut cells = vec![
                Cell::from(Span::styled(format!("#{}", item.id), theme::muted())),
                Cell::from(if row.waits_on_reader {
                    Span::styled("●", theme::accent())
                } else {
                    Span::raw(" ")
                }),
                Cell::from(state_label(row)),
                Cell::from(format!("v{}", item.version)),
                Cell::from(format!("@{}", item.owner)),
                Cell::from(item.channel.clone()),
            ];
            if wide {
                cells.push(Cell::from(item.kind.replace('_', " ")));
                cells.push(Cell::from(item.campaign.clone().unwrap_or_default()));
            }
            cells.push(Cell::from(item.title.clone()));
            cells.push(Cell::from(match &row.review {
                Some(r) => Line::from(vec![
                    Span::styled(
                        if mid {
                            format::countdown(r.deadline - state.now)
                        } else {
                            format::clock(r.deadline - state.now)
                        },
                        theme::level(review_level(state, r)),
                    ),
                    Span::styled(format!(" {}/{}", r.approvals, r.required), theme::muted()),
                ]),
                None => Line::default(),
            }));
            Row::new(cells)
        });
    }

    fn detail(&self, state: &AppState, row: usize) -> Option<Detail> {
        let row = items(&state.snapshot).get(row)?;
        let item = &row.item;
        let label = |s: &str| Span::styled(format!("{s:<11}"), theme::muted());
        let mut lines = vec![
            Line::from(vec![
                label("item"),
                Span::raw(format!(
                    "#{} · {} · {}",
                    item.id,
                    item.kind.replace('_', " "),
                    item.channel
                )),
            ]),
            Line::from(vec![label("state"), Span::raw(state_label(row))]),
            Line::from(vec![
                label("version"),
                Span::raw(match item.approved_version {
                    Some(a) => format!("v{} (v{a} approved)", item.version),
                    None => format!("v{}", item.version),
                }),
            ]),
            Line::from(vec![label("owner"), Span::raw(format!("@{}", item.owner))]),
        ];
        if let Some(c) = &item.campaign {
            lines.push(Line::from(vec![label("campaign"), Span::raw(c.clone())]));
        }
        if item.cost_cents > 0 {
            lines.push(Line::from(vec![
                label("cost"),
                Span::raw(format!("${:.2}", item.cost_cents as f64 / 100.0)),
            ]));
        }
        if item.revision_rounds > 0 {
            lines.push(Line::from(vec![
                label("revisions"),
                Span::raw(item.revision_rounds.to_string()),
            ]));
        }
        lines.push(Line::from(vec![
            label("changed"),
            Span::raw(format::timestamp(item.updated_at)),
        ]));
        if let Some(p) = item.published_at {
            lines.push(Line::from(vec![
                label("published"),
                Span::raw(format::timestamp(p)),
            ]));
        }
        if let Some(r) = &row.review {
            let level = review_level(state, r);
            lines.push(Line::default());
            lines.push(Line::styled("Review", theme::bold()));
            lines.push(Line::from(vec![
                label("approval"),
                Span::raw(format!(
                    "#{} · {} · {} of {} approvals",
                    r.request_id, r.status, r.approvals, r.required
                )),
            ]));
            lines.push(Line::from(vec![
                label("deadline"),
                Span::raw(format!("{} ", format::timestamp(r.deadline))),
                Span::styled(
                    format!("({})", format::countdown(r.deadline - state.now)),
                    theme::level(level),
                ),
            ]));
            lines.push(Line::default());
            let approvals_tab = super::position("approvals").map_or(0, |i| i + 1);
            lines.push(Line::styled(
                if row.waits_on_reader {
                    format!(
                        "It waits on you (@{}): decide it on the Approvals screen ({approvals_tab}).",
                        state.operator
                    )
                } else {
                    format!("Reviewers decide it on the Approvals screen ({approvals_tab}).")
                },
                if row.waits_on_reader {
                    theme::accent()
                } else {
                    Style::default()
                },
            ));
        }
        Some(Detail {
            title: format!("#{} {}", item.id, item.title),
            lines,
        })
    }
}
