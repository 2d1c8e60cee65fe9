//! Vendors: standings with on-time and OTIF sparklines per vendor, then the
//! renewals coming due (notice date countdown) and the open improvement
//! plans (deadline countdown). Read-only: acting stays with `vivid vendor`
//! and the Approvals tab.

use std::sync::Arc;

use chrono::TimeDelta;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row};

use vivid_core::Ctx;
use vivid_core::engine::events::Change;
use vivid_core::vendor::read::{Board, OpenPlan, Renewal, Row as VendorRow};

use super::Screen;
use super::list::{TableSpec, table_rows};
use crate::app::{AppState, ListView};
use crate::data::{self, BoxFuture, PartData};
use crate::format;
use crate::snapshot::{Level, Snapshot};
use crate::theme;

pub struct Vendors;

/// The screen's part: the vendor board from core.
struct Part;

impl data::Part for Part {
    fn concerns(&self, change: &Change) -> bool {
        change.workflow == vivid_core::vendor::WORKFLOW
    }

    fn every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(2)
    }

    fn load<'a>(
        &'a self,
        ctx: &'a Ctx,
        _operator: &'a str,
        _previous: Option<PartData>,
        _changes: &'a [Change],
    ) -> BoxFuture<'a, vivid_core::Result<PartData>> {
        Box::pin(async move {
            let mut conn = ctx.pool.acquire().await?;
            let board = vivid_core::vendor::read::board(ctx, &mut conn).await?;
            Ok(Arc::new(board) as PartData)
        })
    }
}

enum Item<'a> {
    Vendor(&'a VendorRow),
    Renewal(&'a Renewal),
    Plan(&'a OpenPlan),
}

fn board(snap: &Snapshot) -> Option<&Board> {
    snap.get::<Board>()
}

fn item(snap: &Snapshot, row: usize) -> Option<Item<'_>> {
    let b = board(snap)?;
    let (v, r) = (b.rows.len(), b.renewals.len());
    if row < v {
        b.rows.get(row).map(Item::Vendor)
    } else if row < v + r {
        b.renewals.get(row - v).map(Item::Renewal)
    } else {
        b.plans.get(row - v - r).map(Item::Plan)
    }
}

fn rows(snap: &Snapshot) -> usize {
    board(snap)
        .map(|b| b.rows.len() + b.renewals.len() + b.plans.len())
        .unwrap_or(0)
}

fn standing_level(standing: Option<&str>) -> Level {
    match standing {
        Some("good") => Level::Good,
        Some("poor") => Level::Warn,
        Some("very_poor") => Level::Alert,
        _ => Level::Normal,
    }
}

fn text(it: &Item) -> String {
    match it {
        Item::Vendor(v) => format!(
            "{} {} {} {}",
            v.vendor.name,
            v.vendor.category,
            v.vendor.state,
            v.vendor.standing.as_deref().unwrap_or("")
        ),
        Item::Renewal(r) => format!("renewal {}", r.vendor),
        Item::Plan(p) => format!("plan {} {}", p.vendor, p.owner),
    }
    .to_lowercase()
}

impl Screen for Vendors {
    fn id(&self) -> &'static str {
        "vendors"
    }

    fn part(&self) -> Option<&'static dyn data::Part> {
        Some(&Part)
    }

    fn title(&self) -> &'static str {
        "Vendors"
    }

    fn short_title(&self) -> &'static str {
        "Vend"
    }

    fn badge(&self, state: &AppState) -> Option<(String, Level)> {
        let n = board(&state.snapshot).map(|b| b.plans.len()).unwrap_or(0);
        (n > 0).then(|| (n.to_string(), Level::Warn))
    }

    fn matching(&self, snap: &Snapshot, filter: &str) -> Vec<usize> {
        (0..rows(snap))
            .filter(|&i| {
                filter.is_empty() || item(snap, i).is_some_and(|it| text(&it).contains(filter))
            })
            .collect()
    }

    fn row_id(&self, snap: &Snapshot, row: usize) -> Option<i64> {
        item(snap, row).map(|it| match it {
            Item::Vendor(v) => v.vendor.id,
            Item::Renewal(r) => -r.contract_id,
            Item::Plan(p) => -1_000_000_000 - p.plan_id,
        })
    }

    fn render(&self, state: &AppState, list: &ListView, frame: &mut Frame, body: Rect) {
        let snap = &state.snapshot;
        let (vendors, renewals, plans) = board(snap)
            .map(|b| (b.rows.len(), b.renewals.len(), b.plans.len()))
            .unwrap_or_default();
        let title = Line::from(vec![
            Span::styled(" Vendors ", theme::bold()),
            Span::styled(
                format!("{vendors} vendors · {renewals} renewals due · {plans} plans open "),
                theme::muted(),
            ),
        ]);
        let spec = TableSpec {
            title,
            header: Row::new([
                "Vendor", "State", "Score", "Standing", "On time", "OTIF", "Clock",
            ]),
            widths: vec![
                Constraint::Fill(1),
                Constraint::Length(11),
                Constraint::Length(5),
                Constraint::Length(9),
                Constraint::Length(12),
                Constraint::Length(12),
                Constraint::Length(14),
            ],
            empty: if list.filter.is_empty() {
                "No vendors yet: vivid vendor add NAME --category C".into()
            } else {
                format!("Nothing matches “{}”.", list.filter)
            },
        };
        let now = state.now;
        table_rows(frame, body, list, spec, |i| {
            let Some(it) = item(snap, i) else {
                return Row::default();
            };
            match it {
                Item::Vendor(v) => {
                    let standing = v.vendor.standing.clone().unwrap_or_else(|| "-".into());
                    Row::new(vec![
                        Cell::from(format!(
                            "{}{}",
                            v.vendor.name,
                            if v.vendor.critical { " (critical)" } else { "" }
                        )),
                        Cell::from(v.vendor.state.as_str()),
                        Cell::from(
                            v.vendor
                                .overall_score
                                .map(|s| format!("{s:.0}"))
                                .unwrap_or_else(|| "-".into()),
                        ),
                        Cell::from(Span::styled(
                            standing,
                            theme::level(standing_level(v.vendor.standing.as_deref())),
                        )),
                        Cell::from(format::sparkline(format::tail(&v.otd, 12))),
                        Cell::from(format::sparkline(format::tail(&v.otif, 12))),
                        Cell::from(""),
                    ])
                }
                Item::Renewal(r) => Row::new(vec![
                    Cell::from(format!("↻ {} #{}", r.vendor, r.contract_id)),
                    Cell::from(if r.auto_renew {
                        "auto-renew"
                    } else {
                        "renewal"
                    }),
                    Cell::from(""),
                    Cell::from(""),
                    Cell::from(format!("notice {}", r.notice_date.format("%m-%d"))),
                    Cell::from(format!("ends {}", r.end_date.format("%m-%d"))),
                    Cell::from(Span::styled(
                        format::countdown(TimeDelta::days(r.days_left)),
                        theme::level(if r.days_left < 0 {
                            Level::Alert
                        } else if r.days_left <= 30 {
                            Level::Warn
                        } else {
                            Level::Normal
                        }),
                    )),
                ]),
                Item::Plan(p) => {
                    let left = p.deadline - now;
                    Row::new(vec![
                        Cell::from(format!("⚑ {} plan #{}", p.vendor, p.plan_id)),
                        Cell::from(p.status.clone()),
                        Cell::from(
                            p.period_score
                                .map(|s| format!("{s:.0}"))
                                .unwrap_or_default(),
                        ),
                        Cell::from(format!("@{}", p.owner)),
                        Cell::from(p.period.clone()),
                        Cell::from(""),
                        Cell::from(Span::styled(
                            format::countdown(left),
                            theme::level(if left < TimeDelta::zero() {
                                Level::Alert
                            } else {
                                Level::Warn
                            }),
                        )),
                    ])
                }
            }
        });
    }
}
