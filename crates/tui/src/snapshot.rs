//! What the control room shows, as plain data: produced by the loader from
//! the database (through core), consumed by `view`. Tests build it by hand.

use chrono::{DateTime, TimeDelta, Utc};
use vivid_core::content::model::State as ContentState;
use vivid_core::content::store::Item;
use vivid_core::crisis::store::Incident;
use vivid_core::crisis::{Phase, Severity, Status as IncidentStatus};
use vivid_core::engine::approvals::{ApprovalRequest, DecisionRecord};
use vivid_core::engine::events::Event;
use vivid_core::engine::handoffs::Handoff;
use vivid_core::experiments::service::{Experiment, Report};
use vivid_core::journey::service::Funnel;
use vivid_core::privacy::store::{Breach, Request as PrivacyRequest};
use vivid_core::status::{Kpi, Status, WorkflowStatus};

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
    /// Open and resolved incidents, most urgent first (as core lists them).
    pub incidents: Vec<IncidentRow>,
    /// Content items per state, in the seed's order.
    pub pipeline: Vec<Stage>,
    /// Content items in pipeline order, most recently changed first within a state.
    pub content: Vec<ContentRow>,
    /// Experiments, running ones first, each running one analysed.
    pub experiments: Vec<ExperimentRow>,
    /// Open data-subject requests, soonest due first (as core lists them).
    pub privacy_requests: Vec<PrivacyRequest>,
    /// Breaches not yet closed, soonest notification deadline first.
    pub breaches: Vec<Breach>,
    /// The journey funnel over the last 30 days (None before the first read).
    pub funnel: Option<Funnel>,
    /// Lead hand-offs waiting on Sales, soonest due first.
    pub sales_handoffs: Vec<Handoff>,
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

/// An incident on the board, with the clocks core computes for it.
#[derive(Debug, Clone)]
pub struct IncidentRow {
    pub incident: Incident,
    /// When the current phase's time box ends (core's `phase_deadline`).
    pub phase_deadline: Option<DateTime<Utc>>,
    /// How far its escalation ladder has gone, when it has one.
    pub escalation: Option<EscalationLevel>,
}

impl IncidentRow {
    pub fn severity(&self) -> Option<Severity> {
        Some(self.incident.severity)
    }

    pub fn status(&self) -> Option<IncidentStatus> {
        Some(self.incident.status)
    }

    pub fn phase(&self) -> Option<Phase> {
        Some(self.incident.phase)
    }

    /// Time left to acknowledge; only a triggered incident has one.
    pub fn ack_left(&self, now: DateTime<Utc>) -> Option<TimeDelta> {
        (self.status() == Some(IncidentStatus::Triggered)).then(|| self.incident.ack_deadline - now)
    }

    /// Time left in the current phase's time box (negative: over it).
    pub fn phase_left(&self, now: DateTime<Utc>) -> Option<TimeDelta> {
        if self.status() == Some(IncidentStatus::Closed) {
            return None;
        }
        self.phase_deadline.map(|d| d - now)
    }

    /// Still needs people: triggered or acknowledged.
    pub fn is_open(&self) -> bool {
        self.status().is_some_and(IncidentStatus::is_open)
    }
}

/// An escalation ladder's progress ("L2/3").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationLevel {
    /// The last level notified, counting from one; zero before the first.
    pub reached: i32,
    pub levels: usize,
    /// Core's status: active, acknowledged, exhausted, cancelled.
    pub status: String,
}

/// One state of the content pipeline and how many items are in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    pub state: ContentState,
    pub count: usize,
    /// Core lists a bounded number per state: there may be more.
    pub capped: bool,
}

/// A content item, with its review when it is in one.
#[derive(Debug, Clone)]
pub struct ContentRow {
    pub item: Item,
    pub review: Option<Review>,
    /// The item's approval waits on the operator (core's `queue`).
    pub waits_on_operator: bool,
}

/// The approval a content item waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub request_id: i64,
    /// pending, or escalated once its deadline passed.
    pub status: String,
    pub deadline: DateTime<Utc>,
    pub approvals: usize,
    pub required: i32,
}

/// An experiment and, when it runs, core's analysis of it.
#[derive(Debug, Clone)]
pub struct ExperimentRow {
    pub experiment: Experiment,
    pub analysis: Analysis,
}

/// The analysis the loader ran (never `view`).
#[derive(Debug, Clone)]
pub enum Analysis {
    /// Not running: nothing to analyse.
    None,
    Ready(Box<Report>),
    /// Core could not analyse it; its sentence.
    Failed(String),
}

impl Analysis {
    pub fn report(&self) -> Option<&Report> {
        match self {
            Analysis::Ready(r) => Some(r),
            _ => None,
        }
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
