//! What the control room shows, as plain data: produced by the loader from
//! the database (through core), consumed by `view`. Tests build it by hand.

use chrono::{DateTime, Utc};
use vivid_core::engine::approvals::{ApprovalRequest, DecisionRecord};
use vivid_core::engine::events::Event;
use vivid_core::status::{Kpi, Status};

/// Everything on screen at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// When it was read (the clock of the reader).
    pub taken_at: Option<DateTime<Utc>>,
    pub organisation: String,
    /// One tile per workflow or shared mechanism, in display order. A new
    /// workflow shows itself on the overview by adding a tile here.
    pub tiles: Vec<Tile>,
    pub kpis: Vec<Kpi>,
    /// Pending approval requests, soonest deadline first.
    pub approvals: Vec<ApprovalRow>,
    /// The tail of the event log, oldest first.
    pub events: Vec<Event>,
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

/// A pending approval request with what has been decided so far.
#[derive(Debug, Clone)]
pub struct ApprovalRow {
    pub request: ApprovalRequest,
    pub decisions: Vec<DecisionRecord>,
    /// Whether the operator holds a role that may decide and has not yet
    /// (a hint for the eye; core checks again when they act).
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

/// The tiles of the shared engine, from the status report.
pub fn status_tiles(s: &Status) -> Vec<Tile> {
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
                Stat::new("total", s.events.total),
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
                outbox_delivered: 9,
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
                total: 10,
                last_24h: 4,
                last_id: Some(10),
            },
            kpis: Vec::new(),
        }
    }

    #[test]
    fn a_stopped_engine_and_overdue_approvals_are_alerts() {
        let tiles = status_tiles(&status(0, 1));
        let level = |t: &str| tiles.iter().find(|x| x.title == t).map(Tile::level);
        assert_eq!(level("Engine"), Some(Level::Alert));
        assert_eq!(level("Approvals"), Some(Level::Alert));
        assert_eq!(level("Events"), Some(Level::Normal));
        let calm = status_tiles(&status(1, 0));
        assert!(calm.iter().all(|t| t.level() == Level::Normal));
    }
}
