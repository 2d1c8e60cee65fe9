//! The tabs of the control room. Each screen is one module implementing
//! [`Screen`]; the tab bar, keys and help come from [`all`], so a workflow
//! (say Crisis) gets its tab by adding a module and a line there.

pub mod approvals;
pub mod budget;
pub mod collab;
pub mod content;
pub mod crisis;
pub mod events;
pub mod experiments;
pub mod journey;
mod list;
pub mod overview;
pub mod privacy;
pub mod vendor;

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::app::{Action, AppState, ListView, Overlay};
use crate::snapshot::{Level, Snapshot};

pub use list::{table_rows, visible_window};

/// The tabs, in order (keys 1..9 pick them).
pub fn all() -> &'static [&'static dyn Screen] {
    &[
        &overview::Overview,
        &crisis::Crisis,
        &approvals::Approvals,
        &content::Content,
        &experiments::Experiments,
        &events::Events,
        &privacy::Privacy,
        &journey::Journey,
        &budget::Budget,
        &vendor::Vendors,
        &collab::Collab,
    ]
}

/// The screen at `index` (the first one if out of range).
pub fn get(index: usize) -> &'static dyn Screen {
    let screens = all();
    screens
        .get(index)
        .or_else(|| screens.first())
        .copied()
        .unwrap_or(&overview::Overview)
}

/// The index of the screen with this id.
pub fn position(id: &str) -> Option<usize> {
    all().iter().position(|s| s.id() == id)
}

/// A key a screen adds, for the help overlay and the hint line.
#[derive(Debug, Clone, Copy)]
pub struct KeyHelp {
    pub keys: &'static str,
    /// One word for the hint line (empty: only in the help overlay).
    pub short: &'static str,
    /// What it does, for the help overlay.
    pub what: &'static str,
}

/// What a screen's key does: open a box, or act at once (for what is safe
/// to repeat, like acknowledging).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reaction {
    Open(Overlay),
    Act(Action),
}

/// The body of a detail overlay.
#[derive(Debug, Clone)]
pub struct Detail {
    pub title: String,
    pub lines: Vec<Line<'static>>,
}

pub trait Screen: Sync {
    /// Stable id ("approvals"); tiles link to screens by it.
    fn id(&self) -> &'static str;
    fn title(&self) -> &'static str;
    /// The screen's share of the snapshot: what it reads through core and
    /// which changes make it read again.
    fn part(&self) -> Option<&'static dyn crate::data::Part> {
        None
    }
    /// For a narrow tab bar.
    fn short_title(&self) -> &'static str {
        self.title()
    }
    /// A count next to the tab title (e.g. pending approvals).
    fn badge(&self, _state: &AppState) -> Option<(String, Level)> {
        None
    }
    /// Rows of the snapshot matching a filter (lowercase), in display order.
    fn matching(&self, snap: &Snapshot, filter: &str) -> Vec<usize>;
    /// A stable id of a row, to keep the cursor on it across reloads.
    fn row_id(&self, snap: &Snapshot, row: usize) -> Option<i64>;
    /// New rows arrive at the bottom and the cursor follows them.
    fn follows(&self) -> bool {
        false
    }
    /// Where the list (with its border and header) goes inside the body.
    fn list_area(&self, _state: &AppState, body: Rect) -> Rect {
        body
    }
    fn render(&self, state: &AppState, list: &ListView, frame: &mut Frame, body: Rect);
    /// The detail of a row (Enter); None when the screen has no detail.
    fn detail(&self, _state: &AppState, _row: usize) -> Option<Detail> {
        None
    }
    /// What to read through core when the detail of `row` opens (and again
    /// when data changes while it is open).
    fn load_detail(&self, _snap: &Snapshot, _row: usize) -> Option<Action> {
        None
    }
    /// Keys of this screen beyond the common ones.
    fn keys(&self) -> &'static [KeyHelp] {
        &[]
    }
    /// A key the common handling did not take, on `row` (the cursor's or the
    /// open detail's).
    fn on_key(&self, _state: &AppState, _row: Option<usize>, _key: &KeyEvent) -> Option<Reaction> {
        None
    }
}

/// How many list rows fit on screen `index` at the current size.
pub fn page_height(state: &AppState, index: usize) -> usize {
    let body = crate::view::body_area(
        state,
        Rect::from((ratatui::layout::Position::ORIGIN, state.size)),
    );
    let area = get(index).list_area(state, body);
    list::inner_height(area)
}
