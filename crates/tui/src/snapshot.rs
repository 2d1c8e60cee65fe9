//! What the control room shows, as plain data: produced by the loader from
//! the database (through core), consumed by `view`. Tests build it by hand.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use vivid_core::status::{Status, WorkflowStatus};

use crate::data::PartData;

/// Everything on screen at one moment: each screen's part, read through
/// core (see `data`), and what every screen shares.
#[derive(Clone, Default)]
pub struct Snapshot {
    /// When it was read (the clock of the reader).
    pub taken_at: Option<DateTime<Utc>>,
    pub organisation: String,
    /// How long reading it took (what changed since the last one).
    pub read_time: std::time::Duration,
    /// Each screen's data, by its type.
    parts: HashMap<TypeId, PartData>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("taken_at", &self.taken_at)
            .field("parts", &self.parts.len())
            .finish()
    }
}

impl Snapshot {
    /// An empty snapshot read at `taken_at`.
    pub fn new(taken_at: Option<DateTime<Utc>>, organisation: impl Into<String>) -> Self {
        Self {
            taken_at,
            organisation: organisation.into(),
            ..Self::default()
        }
    }

    /// A screen's part, when it has been read.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.parts
            .get(&TypeId::of::<T>())
            .and_then(|p| p.downcast_ref::<T>())
    }

    /// Put a screen's part (tests build snapshots this way).
    pub fn set<T: Any + Send + Sync>(&mut self, part: T) {
        self.parts.insert(TypeId::of::<T>(), Arc::new(part));
    }

    /// Change a part in place (tests); nothing when it is absent.
    pub fn update<T: Any + Send + Sync + Clone>(&mut self, f: impl FnOnce(&mut T)) {
        if let Some(mut part) = self.get::<T>().cloned() {
            f(&mut part);
            self.set(part);
        }
    }

    /// Put a part as the loader read it.
    pub fn set_part(&mut self, part: PartData) {
        self.parts.insert((*part).type_id(), part);
    }
}

/// How alarming a figure is; colours follow from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    #[default]
    Normal,
    /// Nothing to do, and that is good news (e.g. a running engine).
    Good,
    Warn,
    Alert,
}

/// A figure on a tile: "overdue 3".
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    pub label: String,
    pub value: String,
    pub level: Level,
}

impl Stat {
    pub fn new(label: impl Into<String>, value: impl ToString) -> Self {
        Self {
            label: label.into(),
            value: value.to_string(),
            level: Level::Normal,
        }
    }

    /// A count that is bad news when it is not zero.
    pub fn count(label: impl Into<String>, n: i64, when_nonzero: Level) -> Self {
        let level = if n > 0 { when_nonzero } else { Level::Normal };
        Self::new(label, n).level(level)
    }

    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }
}

/// One box on the overview.
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    pub title: String,
    pub stats: Vec<Stat>,
    /// A recent series worth a sparkline, oldest first.
    pub trend: Option<Vec<f64>>,
}

impl Tile {
    /// The worst level on the tile (its border colour).
    pub fn level(&self) -> Level {
        self.stats
            .iter()
            .map(|s| s.level)
            .filter(|l| *l != Level::Good)
            .max()
            .unwrap_or(Level::Normal)
    }
}

/// A workflow's tile, from its status (the report decides what it shows).
pub fn workflow_tile(w: &WorkflowStatus) -> Tile {
    let mut title = w.name.clone();
    if let Some(first) = title.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    let mut stats = vec![
        Stat::new("open", w.open),
        Stat::count("breaches", w.breaches, Level::Alert),
    ];
    stats.extend(w.kpis.iter().map(|(label, value)| Stat::new(label, value)));
    Tile {
        title,
        stats,
        trend: (!w.trend.is_empty()).then(|| w.trend.clone()),
    }
}

/// The overview's tiles: one per workflow the status report has, then the
/// shared engine's.
pub fn status_tiles(s: &Status) -> Vec<Tile> {
    let mut tiles: Vec<Tile> = s.workflows.iter().map(workflow_tile).collect();
    tiles.extend(engine_tiles(s));
    tiles
}

/// The tiles of the shared engine, from the status report.
fn engine_tiles(s: &Status) -> Vec<Tile> {
    let e = &s.engine;
    let workers = if e.workers.is_empty() {
        Stat::new("workers", "none").level(Level::Alert)
    } else {
        Stat::new("workers", e.workers.len()).level(Level::Good)
    };
    vec![
        Tile {
            title: "Engine".into(),
            stats: vec![
                workers,
                Stat::new("timers", e.timers_pending),
                Stat::count("timers late", e.timers_overdue, Level::Alert),
                Stat::count("timers failed", e.timers_failed, Level::Alert),
                Stat::count("outbox", e.outbox_pending, Level::Normal),
                Stat::count("outbox dead", e.outbox_dead, Level::Alert),
            ],
            trend: None,
        },
        Tile {
            title: "Approvals".into(),
            stats: vec![
                Stat::new("pending", s.approvals.pending),
                Stat::count("overdue", s.approvals.overdue, Level::Alert),
                Stat::count("escalated", s.approvals.escalated, Level::Warn),
            ],
            trend: None,
        },
        Tile {
            title: "Escalations".into(),
            stats: vec![
                Stat::count("active", s.escalations.active, Level::Warn),
                Stat::count("exhausted", s.escalations.exhausted, Level::Alert),
            ],
            trend: None,
        },
        Tile {
            title: "Events".into(),
            stats: vec![
                Stat::new("last 24h", s.events.last_24h),
                Stat::new(
                    "latest",
                    s.events
                        .last_id
                        .map(|id| format!("#{id}"))
                        .unwrap_or_else(|| "-".into()),
                ),
            ],
            trend: None,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use vivid_core::status::{ApprovalStatus, EngineStatus, EscalationStatus, EventStatus};

    fn status(workers: usize, overdue: i64) -> Status {
        Status {
            generated_at: DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default(),
            organisation: "VividWalls".into(),
            engine: EngineStatus {
                workers: (0..workers).map(|i| format!("w{i}")).collect(),
                timers_pending: 3,
                timers_overdue: 0,
                timers_failed: 0,
                outbox_pending: 0,
                outbox_dead: 0,
            },
            approvals: ApprovalStatus {
                pending: 2,
                overdue,
                escalated: 0,
            },
            escalations: EscalationStatus {
                active: 0,
                exhausted: 0,
            },
            events: EventStatus {
                last_24h: 4,
                last_id: Some(10),
            },
            kpis: Vec::new(),
            workflows: vec![WorkflowStatus {
                name: "crisis".into(),
                open: 2,
                breaches: overdue,
                kpis: vec![("open P1".into(), "1".into())],
                trend: vec![0.0, 1.0, 2.0],
            }],
        }
    }

    #[test]
    fn a_stopped_engine_and_overdue_approvals_are_alerts() {
        let tiles = status_tiles(&status(0, 1));
        let level = |t: &str| tiles.iter().find(|x| x.title == t).map(Tile::level);
        assert_eq!(level("Engine"), Some(Level::Alert));
        assert_eq!(level("Approvals"), Some(Level::Alert));
        assert_eq!(level("Events"), Some(Level::Normal));
        assert_eq!(level("Crisis"), Some(Level::Alert), "breaches are alerts");
        let calm = status_tiles(&status(1, 0));
        assert!(calm.iter().all(|t| t.level() == Level::Normal));
    }

    #[test]
    fn workflow_tiles_come_first_and_carry_their_kpis_and_trend() {
        let tiles = status_tiles(&status(1, 0));
        let crisis = &tiles[0];
        assert_eq!(crisis.title, "Crisis");
        let labels: Vec<&str> = crisis.stats.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["open", "breaches", "open P1"]);
        assert_eq!(crisis.trend.as_deref(), Some(&[0.0, 1.0, 2.0][..]));
        assert_eq!(tiles[1].title, "Engine");
    }
}
