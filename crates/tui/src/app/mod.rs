//! The control room's state and the messages that change it (elm style):
//! `update(state, msg) -> Option<Action>`; the runtime performs actions.

mod update;

use chrono::{DateTime, TimeDelta, Utc};
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Size;
use vivid_core::crisis::service::Detail as IncidentDetail;
use vivid_core::engine::approvals::Decision;
use vivid_core::workflow::ReviewText;

use crate::screens::{self, Screen};
use crate::snapshot::Snapshot;

pub use update::{confirm, update};

/// Everything the view draws from.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The person the operator acts as.
    pub operator: String,
    /// The clock, advanced by ticks; countdowns are computed from it.
    pub now: DateTime<Utc>,
    /// The terminal size, to page and scroll lists.
    pub size: Size,
    pub snapshot: Snapshot,
    /// False until the first snapshot arrives.
    pub loaded: bool,
    pub db: DbHealth,
    /// Index into `screens::all()`.
    pub tab: usize,
    /// One list per screen, same order as `screens::all()`.
    pub lists: Vec<ListView>,
    pub overlay: Option<Overlay>,
    /// The filter line while it is being typed.
    pub editing_filter: bool,
    pub flash: Option<Flash>,
    /// An operator action under way.
    pub busy: Option<String>,
    /// Deadlines closer than this show as warnings.
    pub warn_within: TimeDelta,
    /// The organisation's time zone: every time on screen is local.
    pub zone: vivid_core::calendar::Tz,
    /// The incident whose detail is open, read through core when it opened.
    pub incident: Option<Fetched<IncidentDetail>>,
    /// The text under review of the approval whose detail is open.
    pub review: Option<Fetched<Option<ReviewText>>>,
    /// How far the open detail is scrolled (PgDn/PgUp); back to the top
    /// when another row's detail opens.
    pub detail_scroll: u16,
}

/// Something read on demand for a detail overlay.
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    pub id: i64,
    /// The data, or core's sentence why it could not be read.
    pub result: Result<Box<T>, String>,
}

/// Whether the database answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbHealth {
    Up,
    Down {
        error: String,
        since: DateTime<Utc>,
        retry_at: DateTime<Utc>,
    },
}

/// The state of one screen's list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListView {
    pub filter: String,
    /// Rows of the snapshot that match the filter, in display order.
    pub rows: Vec<usize>,
    /// Index into `rows`.
    pub selected: usize,
    /// First entry of `rows` on screen.
    pub offset: usize,
    /// Stick to the newest row as rows arrive (event logs).
    pub follow: bool,
}

impl ListView {
    /// The snapshot row under the cursor.
    pub fn current(&self) -> Option<usize> {
        self.rows.get(self.selected).copied()
    }
}

/// A message shown on the status line for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
    pub at: DateTime<Utc>,
}

/// A box drawn over the screen; it takes the keys while open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// Every key; scrolled when the terminal is too short for all of them.
    Help { scroll: u16 },
    /// The detail of one row, by its id (rows move when data reloads).
    Detail { screen: usize, id: i64 },
    /// A line of text the operator types (e.g. why changes are needed),
    /// then `then` is confirmed with the text as its comment.
    Prompt {
        title: String,
        label: String,
        input: String,
        hint: Option<String>,
        then: Action,
    },
    /// Ask before doing what cannot be undone.
    Confirm {
        title: String,
        lines: Vec<String>,
        action: Action,
    },
    /// An error from core, shown until dismissed.
    Error { title: String, message: String },
}

/// Side effects the runtime performs for `update`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Quit,
    /// Re-read everything now.
    Reload,
    Decide(DecideCmd),
    Crisis(CrisisCmd),
    /// Read an incident's detail (timeline, escalation) for its overlay.
    LoadIncident(i64),
    /// Read what an approval's deciders review (body and diff).
    LoadReview(i64),
    /// Acknowledge or finish a hand-off (collaboration).
    Handoff(HandoffCmd),
}

impl Action {
    /// The same action carrying the comment typed in a prompt.
    pub fn with_comment(self, comment: &str) -> Self {
        let comment = comment.trim().to_string();
        match self {
            Action::Decide(mut d) => {
                d.comment = comment;
                Action::Decide(d)
            }
            Action::Crisis(CrisisCmd { id, title, op }) => Action::Crisis(CrisisCmd {
                id,
                title,
                op: op.with_text(comment),
            }),
            other => other,
        }
    }

    /// Whether the operator waits for it (the status line says so and a
    /// second action is refused until it is done).
    pub fn is_command(&self) -> bool {
        matches!(
            self,
            Action::Decide(_) | Action::Crisis(_) | Action::Handoff(_)
        )
    }

    /// A sentence for the status line while it runs.
    pub fn describe(&self) -> String {
        match self {
            Action::Quit => "quitting".into(),
            Action::Reload => "reloading".into(),
            Action::Decide(d) => format!(
                "{} #{} {}…",
                match d.decision {
                    Decision::Approve => "approving",
                    Decision::Reject => "rejecting",
                    Decision::RequestChanges => "requesting changes on",
                },
                d.request_id,
                d.title
            ),
            Action::Crisis(CrisisCmd {
                op: CrisisOp::Open { .. },
                ..
            }) => "opening an incident…".into(),
            Action::Crisis(c) => format!("{} #{} {}…", c.op.verb_ing(), c.id, c.title),
            Action::LoadIncident(id) => format!("reading incident #{id}"),
            Action::LoadReview(id) => format!("reading the text of approval #{id}"),
            Action::Handoff(h) => format!(
                "{} hand-off #{} {}…",
                match h.op {
                    HandoffOp::Acknowledge => "acknowledging",
                    HandoffOp::Done => "finishing",
                },
                h.id,
                h.title
            ),
        }
    }
}

/// Decide an approval request as the operator; core routes it through the
/// workflow that owns the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecideCmd {
    pub request_id: i64,
    /// The version the operator saw; a newer one makes core refuse.
    pub version: i32,
    pub title: String,
    pub decision: Decision,
    pub comment: String,
}

/// A hand-off command as the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffCmd {
    pub id: i64,
    pub title: String,
    pub op: HandoffOp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffOp {
    Acknowledge,
    Done,
}

/// An incident command as the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrisisCmd {
    pub id: i64,
    pub title: String,
    pub op: CrisisOp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrisisOp {
    Acknowledge,
    /// Core requires a note saying how it was resolved.
    Resolve {
        note: String,
    },
    /// Notify the next escalation level now.
    Escalate,
    /// Open an incident: "P1 Checkout fails" (severity, then title).
    Open {
        text: String,
    },
    /// Advance to the next phase.
    AdvancePhase,
    /// A note on the timeline.
    Note {
        text: String,
    },
    /// "P2 why": the new severity, then the reason.
    Severity {
        text: String,
    },
    /// "kai [note]": who takes command.
    Commander {
        text: String,
    },
    /// A status update; the next one is promised within the hour.
    Update {
        text: String,
        customer: bool,
    },
}

impl CrisisOp {
    /// The text typed in a prompt, for the ops that take one.
    fn with_text(self, typed: String) -> Self {
        match self {
            CrisisOp::Resolve { .. } => CrisisOp::Resolve { note: typed },
            CrisisOp::Open { .. } => CrisisOp::Open { text: typed },
            CrisisOp::Note { .. } => CrisisOp::Note { text: typed },
            CrisisOp::Severity { .. } => CrisisOp::Severity { text: typed },
            CrisisOp::Commander { .. } => CrisisOp::Commander { text: typed },
            CrisisOp::Update { customer, .. } => CrisisOp::Update {
                text: typed,
                customer,
            },
            other => other,
        }
    }

    /// What the operator typed for it, if anything.
    pub fn text(&self) -> Option<&str> {
        match self {
            CrisisOp::Resolve { note: t }
            | CrisisOp::Open { text: t }
            | CrisisOp::Note { text: t }
            | CrisisOp::Severity { text: t }
            | CrisisOp::Commander { text: t }
            | CrisisOp::Update { text: t, .. } => Some(t),
            _ => None,
        }
    }

    /// "acknowledging", "advancing", ...: for the status line.
    pub fn verb_ing(&self) -> &'static str {
        match self {
            CrisisOp::Acknowledge => "acknowledging",
            CrisisOp::Resolve { .. } => "resolving",
            CrisisOp::Escalate => "escalating",
            CrisisOp::Open { .. } => "opening",
            CrisisOp::AdvancePhase => "advancing",
            CrisisOp::Note { .. } => "noting on",
            CrisisOp::Severity { .. } => "changing the severity of",
            CrisisOp::Commander { .. } => "handing over command of",
            CrisisOp::Update { .. } => "posting a status update on",
        }
    }
}

/// What changes the state.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Resize(u16, u16),
    Tick(DateTime<Utc>),
    /// A fresh read of the database.
    Loaded(Box<Snapshot>),
    /// The database could not be read at `at`; the loader retries at
    /// `retry_at`.
    DbDown {
        error: String,
        at: DateTime<Utc>,
        retry_at: DateTime<Utc>,
    },
    /// An action finished: what happened, or core's sentence why not.
    Done(Result<String, String>),
    /// An incident's detail was read (or could not be).
    IncidentLoaded(Fetched<IncidentDetail>),
    /// An approval's text under review was read (or could not be).
    ReviewLoaded(Fetched<Option<ReviewText>>),
    /// The keyboard cannot be read any more (the terminal went away).
    InputLost(String),
}

impl AppState {
    pub fn new(operator: impl Into<String>, now: DateTime<Utc>, size: Size) -> Self {
        let lists = screens::all()
            .iter()
            .map(|s| ListView {
                follow: s.follows(),
                ..ListView::default()
            })
            .collect();
        Self {
            operator: operator.into(),
            now,
            size,
            snapshot: Snapshot::default(),
            loaded: false,
            db: DbHealth::Up,
            tab: 0,
            lists,
            overlay: None,
            editing_filter: false,
            flash: None,
            busy: None,
            warn_within: TimeDelta::hours(4),
            zone: vivid_core::calendar::Tz::UTC,
            incident: None,
            review: None,
            detail_scroll: 0,
        }
    }

    pub fn screen(&self) -> &'static dyn Screen {
        screens::get(self.tab)
    }

    pub fn list(&self) -> &ListView {
        static EMPTY: ListView = ListView {
            filter: String::new(),
            rows: Vec::new(),
            selected: 0,
            offset: 0,
            follow: false,
        };
        self.lists.get(self.tab).unwrap_or(&EMPTY)
    }
}
